using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace StatusData.Benchmarks.Contenders;

/// <summary>The two tables, mapped by explicit configuration to the shared schema's snake_case names.</summary>
internal sealed class BenchDbContext(DbContextOptions<BenchDbContext> options) : DbContext(options)
{
    public DbSet<UserRow> Users => Set<UserRow>();

    public DbSet<StatusUpdateRow> StatusUpdates => Set<StatusUpdateRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<UserRow>(user =>
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
        modelBuilder.Entity<StatusUpdateRow>(update =>
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
/// to write (read-modify-write posting, Add/AddRange + SaveChanges). With <c>skipTake</c>, the
/// feed pages with OFFSET (Skip/Take) instead of the keyset cursor.
/// </summary>
internal sealed class EfCoreContender(string connectionString, bool skipTake) : Contender
{
    private static readonly Func<BenchDbContext, Guid, Task<UserRow?>> UserById =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.AsNoTracking().FirstOrDefault(u => u.Id == id));

    private static readonly Func<BenchDbContext, Guid, Task<UserRow>> TrackedUserById =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.First(u => u.Id == id));

    private static readonly Func<BenchDbContext, int, IAsyncEnumerable<StatusUpdateRow>> FeedFirstPage =
        EF.CompileAsyncQuery((BenchDbContext c, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Take(take));

    private static readonly Func<BenchDbContext, DateTime, Guid, int, IAsyncEnumerable<StatusUpdateRow>> FeedAfter =
        EF.CompileAsyncQuery((BenchDbContext c, DateTime createdAt, Guid id, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .Where(s => EF.Functions.LessThan(ValueTuple.Create(s.CreatedAt, s.Id), ValueTuple.Create(createdAt, id)))
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Take(take));

    private static readonly Func<BenchDbContext, int, int, IAsyncEnumerable<StatusUpdateRow>> FeedSkipTake =
        EF.CompileAsyncQuery((BenchDbContext c, int skip, int take) => c.StatusUpdates.AsNoTracking()
            .Include(s => s.Author)
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
            .Skip(skip).Take(take));

    private static readonly Func<BenchDbContext, Guid, Task<UserRow?>> UserWithUpdates =
        EF.CompileAsyncQuery((BenchDbContext c, Guid id) => c.Users.AsNoTracking()
            .Include(u => u.StatusUpdates.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id))
            .FirstOrDefault(u => u.Id == id));

    private static readonly Func<BenchDbContext, Guid[], IAsyncEnumerable<UserRow>> UsersWithUpdates =
        EF.CompileAsyncQuery((BenchDbContext c, Guid[] ids) => c.Users.AsNoTracking()
            .Include(u => u.StatusUpdates.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id))
            .Where(u => ids.Contains(u.Id)));

    private readonly PooledDbContextFactory<BenchDbContext> _factory =
        new(new DbContextOptionsBuilder<BenchDbContext>().UseNpgsql(connectionString).Options);

    public override async Task<UserRow?> GetUserAsync(Guid id)
    {
        await using var context = _factory.CreateDbContext();
        return await UserById(context, id);
    }

    public override async Task<UserRow> CreateUserAsync(string username, string displayName, string email, string passwordHash)
    {
        var now = DateTime.UtcNow;
        var user = new UserRow
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
    public override async Task<StatusUpdateRow> PostAsync(Guid userId, string message, string category, int xpAward)
    {
        var now = DateTime.UtcNow;
        var today = DateOnly.FromDateTime(now);
        await using var context = _factory.CreateDbContext();
        var author = await TrackedUserById(context, userId);
        author.ApplyPost(xpAward, today);
        var update = new StatusUpdateRow
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

    public override async Task<List<StatusUpdateRow>> GetFeedAsync(int limit, int offset, PageCursor? after)
    {
        await using var context = _factory.CreateDbContext();
        var page = skipTake ? FeedSkipTake(context, offset, limit)
            : after is { } cursor ? FeedAfter(context, cursor.CreatedAt, cursor.Id, limit)
            : FeedFirstPage(context, limit);
        return await ToListAsync(page, limit);
    }

    public override async Task<UserRow?> GetUserWithUpdatesAsync(Guid id)
    {
        await using var context = _factory.CreateDbContext();
        return await UserWithUpdates(context, id);
    }

    public override async Task<List<UserRow>> GetUsersWithUpdatesAsync(Guid[] ids)
    {
        await using var context = _factory.CreateDbContext();
        return await ToListAsync(UsersWithUpdates(context, ids), ids.Length);
    }

    /// <summary>AddRange + SaveChanges (EF batches the INSERTs), as EF's documentation shows for many rows.</summary>
    public override async Task<int> ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities)
    {
        await using var context = _factory.CreateDbContext();
        context.StatusUpdates.AddRange(entities);
        return await context.SaveChangesAsync();
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

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
