using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace StatusData.Benchmarks.Contenders;

/// <summary>A <c>users</c> row as an EF Core entity, with its status updates as a navigation.</summary>
public sealed class UserEntity
{
    public Guid Id { get; set; }

    public string Username { get; set; } = string.Empty;

    public string DisplayName { get; set; } = string.Empty;

    public string Email { get; set; } = string.Empty;

    public string PasswordHash { get; set; } = string.Empty;

    public string? AvatarUrl { get; set; }

    public int Xp { get; set; }

    public int CurrentStreak { get; set; }

    public int LongestStreak { get; set; }

    public DateOnly? LastPostDate { get; set; }

    public DateTime CreatedAt { get; set; }

    public ICollection<StatusUpdateEntity> StatusUpdates { get; } = [];
}

/// <summary>A <c>status_updates</c> row as an EF Core entity, with its author as a navigation.</summary>
public sealed class StatusUpdateEntity
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public string Message { get; set; } = string.Empty;

    public string Category { get; set; } = string.Empty;

    public DateTime CreatedAt { get; set; }

    public UserEntity? Author { get; set; }
}

/// <summary>The two tables, mapped by explicit configuration to the shared schema's snake_case names.</summary>
internal sealed class BenchDbContext(DbContextOptions<BenchDbContext> options) : DbContext(options)
{
    public DbSet<UserEntity> Users => Set<UserEntity>();

    public DbSet<StatusUpdateEntity> StatusUpdates => Set<StatusUpdateEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<UserEntity>(user =>
        {
            user.ToTable("users");
            user.HasKey(u => u.Id).HasName("users_pkey");
            user.Property(u => u.Id).HasColumnName("id").ValueGeneratedNever();
            user.Property(u => u.Username).HasColumnName("username").HasMaxLength(50);
            user.Property(u => u.DisplayName).HasColumnName("display_name").HasMaxLength(100);
            user.Property(u => u.Email).HasColumnName("email").HasMaxLength(255);
            user.Property(u => u.PasswordHash).HasColumnName("password_hash").HasMaxLength(255);
            user.Property(u => u.AvatarUrl).HasColumnName("avatar_url").HasMaxLength(500);
            user.Property(u => u.Xp).HasColumnName("xp");
            user.Property(u => u.CurrentStreak).HasColumnName("current_streak");
            user.Property(u => u.LongestStreak).HasColumnName("longest_streak");
            user.Property(u => u.LastPostDate).HasColumnName("last_post_date");
            user.Property(u => u.CreatedAt).HasColumnName("created_at");
            user.HasMany(u => u.StatusUpdates).WithOne(s => s.Author).HasForeignKey(s => s.UserId);
        });
        modelBuilder.Entity<StatusUpdateEntity>(update =>
        {
            update.ToTable("status_updates");
            update.HasKey(s => s.Id).HasName("status_updates_pkey");
            update.Property(s => s.Id).HasColumnName("id").ValueGeneratedNever();
            update.Property(s => s.UserId).HasColumnName("user_id");
            update.Property(s => s.Message).HasColumnName("message");
            update.Property(s => s.Category).HasColumnName("category").HasMaxLength(20);
            update.Property(s => s.CreatedAt).HasColumnName("created_at");
        });
    }
}

/// <summary>
/// EF Core 10 with the Npgsql provider as its documentation recommends for speed: a pooled context
/// factory, no-tracking compiled queries for reads, keyset pagination with the provider's row-value
/// comparison, <c>Include</c> for relations (single query), change tracking only where EF needs it
/// to write (read-modify-write posting, Add/AddRange + SaveChanges).
/// </summary>
internal sealed class EfCoreContender : IAsyncDisposable
{
    private static readonly Func<BenchDbContext, Guid, Task<UserEntity?>> UserById =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.AsNoTracking().FirstOrDefault(u => u.Id == id));

    private static readonly Func<BenchDbContext, Guid, Task<UserEntity>> TrackedUserById =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.First(u => u.Id == id));

    private static readonly Func<BenchDbContext, int, IAsyncEnumerable<StatusUpdateEntity>> FeedFirstPage =
        EF.CompileAsyncQuery((BenchDbContext c, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Take(take));

    private static readonly Func<BenchDbContext, DateTime, Guid, int, IAsyncEnumerable<StatusUpdateEntity>> FeedAfter =
        EF.CompileAsyncQuery((BenchDbContext c, DateTime createdAt, Guid id, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .Where(s => EF.Functions.LessThan(ValueTuple.Create(s.CreatedAt, s.Id), ValueTuple.Create(createdAt, id)))
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Take(take));

    private static readonly Func<BenchDbContext, int, int, IAsyncEnumerable<StatusUpdateEntity>> FeedSkipTake =
        EF.CompileAsyncQuery((BenchDbContext c, int skip, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Skip(skip).Take(take));

    private static readonly Func<BenchDbContext, Guid, Task<UserEntity?>> UserWithUpdates =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.AsNoTracking()
            .Include(u => u.StatusUpdates.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id))
            .FirstOrDefault(u => u.Id == id));

    private static readonly Func<BenchDbContext, Guid[], IAsyncEnumerable<UserEntity>> UsersWithUpdates =
        EF.CompileAsyncQuery((BenchDbContext c, Guid[] ids) => c.Users.AsNoTracking()
            .Include(u => u.StatusUpdates.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id))
            .Where(u => ids.Contains(u.Id)));

    private readonly PooledDbContextFactory<BenchDbContext> _factory;

    public EfCoreContender(string connectionString)
    {
        var options = new DbContextOptionsBuilder<BenchDbContext>()
            .UseNpgsql(connectionString)
            .Options;
        _factory = new PooledDbContextFactory<BenchDbContext>(options);
    }

    public async Task<UserEntity?> GetUserByIdAsync(Guid id)
    {
        await using var context = _factory.CreateDbContext();
        return await UserById(context, id);
    }

    public async Task<UserEntity> CreateUserAsync(string username, string displayName, string email, string passwordHash)
    {
        var now = DateTime.UtcNow;
        var user = new UserEntity
        {
            Id = Guid.CreateVersion7(now),
            Username = username,
            DisplayName = displayName,
            Email = email,
            PasswordHash = passwordHash,
            CreatedAt = new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc),
        };
        await using var context = _factory.CreateDbContext();
        context.Users.Add(user);
        await context.SaveChangesAsync();
        return user;
    }

    /// <summary>Read-modify-write: load the author (tracked), apply XP and the streak in C#, add the update, SaveChanges.</summary>
    public async Task<StatusUpdateEntity> PostAsync(Guid userId, string message, string category, int xpAward)
    {
        var now = DateTime.UtcNow;
        var today = DateOnly.FromDateTime(now);
        await using var context = _factory.CreateDbContext();
        var author = await TrackedUserById(context, userId);
        author.CurrentStreak = author.LastPostDate == today ? author.CurrentStreak
            : author.LastPostDate == today.AddDays(-1) ? author.CurrentStreak + 1
            : 1;
        author.LongestStreak = Math.Max(author.LongestStreak, author.CurrentStreak);
        author.LastPostDate = today;
        author.Xp += xpAward;
        var update = new StatusUpdateEntity
        {
            Id = Guid.CreateVersion7(now),
            UserId = userId,
            Message = message,
            Category = category,
            CreatedAt = new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc),
        };
        context.StatusUpdates.Add(update);
        await context.SaveChangesAsync();
        return update;
    }

    public async Task<List<StatusUpdateEntity>> GetFeedFirstPageAsync(int limit)
    {
        await using var context = _factory.CreateDbContext();
        return await ToListAsync(FeedFirstPage(context, limit), limit);
    }

    public async Task<List<StatusUpdateEntity>> GetFeedAfterAsync(PageCursor after, int limit)
    {
        await using var context = _factory.CreateDbContext();
        return await ToListAsync(FeedAfter(context, after.CreatedAt, after.Id, limit), limit);
    }

    public async Task<List<StatusUpdateEntity>> GetFeedSkipTakeAsync(int skip, int limit)
    {
        await using var context = _factory.CreateDbContext();
        return await ToListAsync(FeedSkipTake(context, skip, limit), limit);
    }

    public async Task<UserEntity?> GetUserWithUpdatesAsync(Guid id)
    {
        await using var context = _factory.CreateDbContext();
        return await UserWithUpdates(context, id);
    }

    public async Task<List<UserEntity>> GetUsersWithUpdatesAsync(Guid[] ids)
    {
        await using var context = _factory.CreateDbContext();
        return await ToListAsync(UsersWithUpdates(context, ids), ids.Length);
    }

    /// <summary>AddRange + SaveChanges (EF batches the INSERTs), as EF's documentation shows for many rows.</summary>
    public async Task<int> ImportAsync(List<StatusUpdateEntity> rows)
    {
        await using var context = _factory.CreateDbContext();
        context.StatusUpdates.AddRange(rows);
        return await context.SaveChangesAsync();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source, int capacity)
    {
        var list = new List<T>(capacity);
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }
}
