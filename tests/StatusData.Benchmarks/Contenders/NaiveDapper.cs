using Dapper;
using Npgsql;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// How a typical hand-rolled Dapper repository does it: a new <see cref="NpgsqlConnection"/> per call
/// (pooled), named parameters, read-modify-write for XP and the streak inside a transaction, N+1 queries
/// for relations, OFFSET paging, and <c>Execute(sql, list)</c> for many rows (one INSERT per row).
/// </summary>
internal sealed class NaiveDapper(string connectionString) : Contender
{
    private const string UserColumns = """
        id AS Id, username AS Username, display_name AS DisplayName, email AS Email, password_hash AS PasswordHash,
        avatar_url AS AvatarUrl, xp AS Xp, current_streak AS CurrentStreak, longest_streak AS LongestStreak,
        last_post_date AS LastPostDate, created_at AS CreatedAt
        """;

    private const string UpdateColumns = "id AS Id, user_id AS UserId, message AS Message, category AS Category, created_at AS CreatedAt";

    private const string InsertUpdate = "INSERT INTO status_updates (id, user_id, message, category, created_at) VALUES (@Id, @UserId, @Message, @Category, @CreatedAt)";

    public override async Task<UserRow?> GetUserAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return await connection.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @id", new { id });
    }

    public override async Task<UserRow> CreateUserAsync(string username, string displayName, string email, string passwordHash)
    {
        var user = new UserRow { Id = Guid.NewGuid(), Username = username, DisplayName = displayName, Email = email, PasswordHash = passwordHash, CreatedAt = DateTime.UtcNow };
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
            VALUES (@Id, @Username, @DisplayName, @Email, @PasswordHash, @AvatarUrl, 0, 0, 0, NULL, @CreatedAt)
            """,
            // Dapper sends a DateTime as 'timestamp without time zone'; a UTC instant must go as a DateTimeOffset.
            new { user.Id, user.Username, user.DisplayName, user.Email, user.PasswordHash, user.AvatarUrl, CreatedAt = new DateTimeOffset(user.CreatedAt) });
        return user;
    }

    /// <summary>SELECT the author, compute XP and the streak in C#, UPDATE the author, INSERT the update, COMMIT.</summary>
    public override async Task<StatusUpdateRow> PostAsync(Guid userId, string message, string category, int xpAward)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var author = await connection.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @id", new { id = userId }, transaction)
            ?? throw new UserNotFoundException(userId);
        author.ApplyPost(xpAward, DateOnly.FromDateTime(DateTime.UtcNow));
        await connection.ExecuteAsync(
            "UPDATE users SET xp = @Xp, current_streak = @CurrentStreak, longest_streak = @LongestStreak, last_post_date = @LastPostDate WHERE id = @Id",
            author,
            transaction);
        var update = new StatusUpdateRow { Id = Guid.NewGuid(), UserId = userId, Message = message, Category = category, CreatedAt = DateTime.UtcNow, Author = author };
        await connection.ExecuteAsync(InsertUpdate, new { update.Id, update.UserId, update.Message, update.Category, CreatedAt = new DateTimeOffset(update.CreatedAt) }, transaction);
        await transaction.CommitAsync();
        return update;
    }

    /// <summary>OFFSET paging (the cursor is not used), and each update's author loaded on its own (N+1).</summary>
    public override async Task<List<StatusUpdateRow>> GetFeedAsync(int limit, int offset, PageCursor? after)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var updates = (await connection.QueryAsync<StatusUpdateRow>(
            $"SELECT {UpdateColumns} FROM status_updates ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset",
            new { limit, offset })).ToList();
        foreach (var update in updates)
        {
            update.Author = await connection.QuerySingleAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @id", new { id = update.UserId });
        }

        return updates;
    }

    /// <summary>The user, then their updates: two queries.</summary>
    public override async Task<UserRow?> GetUserWithUpdatesAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var user = await connection.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @id", new { id });
        if (user is not null)
        {
            await LoadUpdatesAsync(connection, user);
        }

        return user;
    }

    /// <summary>The users in one query (Dapper passes the array as one parameter), then each user's updates on their own (N+1).</summary>
    public override async Task<List<UserRow>> GetUsersWithUpdatesAsync(Guid[] ids)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var users = (await connection.QueryAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = ANY(@ids)", new { ids })).ToList();
        foreach (var user in users)
        {
            await LoadUpdatesAsync(connection, user);
        }

        return users;
    }

    /// <summary>Dapper's Execute with a list runs the INSERT once per element, in one transaction.</summary>
    public override async Task<int> ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var inserted = await connection.ExecuteAsync(
            InsertUpdate,
            rows.Select(r => new { r.Id, r.UserId, r.Message, r.Category, CreatedAt = new DateTimeOffset(r.CreatedAt) }),
            transaction);
        await transaction.CommitAsync();
        return inserted;
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static async Task LoadUpdatesAsync(NpgsqlConnection connection, UserRow user)
    {
        var updates = await connection.QueryAsync<StatusUpdateRow>(
            $"SELECT {UpdateColumns} FROM status_updates WHERE user_id = @id ORDER BY created_at DESC, id DESC",
            new { id = user.Id });
        user.StatusUpdates.AddRange(updates);
    }
}
