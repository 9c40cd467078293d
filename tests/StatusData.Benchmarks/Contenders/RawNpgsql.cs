using Npgsql;
using NpgsqlTypes;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// The limit for a .NET client: hand-written <see cref="NpgsqlCommand"/>s with positional <c>$n</c>
/// parameters (no SQL rewriting on the client), explicitly prepared (Npgsql keeps the server-side
/// statement on the physical connection across pool checkouts, so from the second call on
/// <c>Prepare</c> sends nothing), read by ordinal into StatusData's own records. The SQL is
/// StatusData's, statement for statement, so the ratio isolates the library's own cost.
/// </summary>
internal sealed class RawNpgsql(string connectionString) : IAsyncDisposable
{
    public const string UserColumns = "id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at";

    private const string SelectUserById = $"SELECT {UserColumns} FROM users WHERE id = $1";

    private const string InsertUser = """
        INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, NULL, $7)
        """;

    private const string Post = """
        WITH author AS (
            UPDATE users
            SET xp = xp + $5,
                current_streak = CASE
                    WHEN last_post_date = $6 THEN current_streak
                    WHEN last_post_date = $6 - 1 THEN current_streak + 1
                    ELSE 1
                END,
                longest_streak = GREATEST(longest_streak, CASE
                    WHEN last_post_date = $6 THEN current_streak
                    WHEN last_post_date = $6 - 1 THEN current_streak + 1
                    ELSE 1
                END),
                last_post_date = $6
            WHERE id = $2
            RETURNING id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at
        ),
        inserted AS (
            INSERT INTO status_updates (id, user_id, message, category, created_at)
            SELECT $1, author.id, $3, $4, $7 FROM author
            RETURNING id, user_id, message, category, created_at
        )
        SELECT i.id, i.user_id, i.message, i.category, i.created_at,
               a.id, a.username, a.display_name, a.email, a.password_hash, a.avatar_url,
               a.xp, a.current_streak, a.longest_streak, a.last_post_date, a.created_at
        FROM inserted i CROSS JOIN author a
        """;

    private const string Feed = """
        SELECT s.id, s.user_id, s.message, s.category, s.created_at,
               u.id, u.username, u.display_name, u.email, u.password_hash, u.avatar_url,
               u.xp, u.current_streak, u.longest_streak, u.last_post_date, u.created_at
        FROM status_updates s
        JOIN users u ON u.id = s.user_id
        WHERE (s.created_at, s.id) < ($1, $2)
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT $3
        """;

    private const string UsersByIds = $"SELECT {UserColumns} FROM users WHERE id = ANY($1)";

    private const string UpdatesByUsers = """
        SELECT id, user_id, message, category, created_at
        FROM status_updates
        WHERE user_id = ANY($1)
        ORDER BY user_id, created_at DESC, id DESC
        """;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public async Task<int> SelectOneAsync()
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.PrepareAsync();
        return (int)(await command.ExecuteScalarAsync())!;
    }

    public async Task<User?> GetUserByIdAsync(Guid id)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(SelectUserById, connection) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } };
        await command.PrepareAsync();
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? ReadUser(reader, 0) : null;
    }

    public async Task<User> CreateUserAsync(string username, string displayName, string email, string passwordHash)
    {
        var now = DateTime.UtcNow;
        var user = new User(Guid.CreateVersion7(now), username, displayName, email, passwordHash, null, 0, 0, 0, null, new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc));
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(InsertUser, connection)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = user.Id },
                new NpgsqlParameter<string> { TypedValue = user.Username },
                new NpgsqlParameter<string> { TypedValue = user.DisplayName },
                new NpgsqlParameter<string> { TypedValue = user.Email },
                new NpgsqlParameter<string> { TypedValue = user.PasswordHash },
                new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar },
                new NpgsqlParameter<DateTime> { TypedValue = user.CreatedAt },
            },
        };
        await command.PrepareAsync();
        await command.ExecuteNonQueryAsync();
        return user;
    }

    public async Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward)
    {
        var now = DateTime.UtcNow;
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(Post, connection)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7(now) },
                new NpgsqlParameter<Guid> { TypedValue = userId },
                new NpgsqlParameter<string> { TypedValue = message, NpgsqlDbType = NpgsqlDbType.Text },
                new NpgsqlParameter<string> { TypedValue = category, NpgsqlDbType = NpgsqlDbType.Varchar },
                new NpgsqlParameter<int> { TypedValue = xpAward },
                new NpgsqlParameter<DateOnly> { TypedValue = DateOnly.FromDateTime(now) },
                new NpgsqlParameter<DateTime> { TypedValue = new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc) },
            },
        };
        await command.PrepareAsync();
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? new StatusUpdateWithAuthor(ReadStatusUpdate(reader, 0), ReadUser(reader, 5))
            : throw new UserNotFoundException(userId);
    }

    /// <summary>The feed page after <paramref name="cursor"/>; for page 1, StatusData's own sentinel (+infinity, max uuid).</summary>
    public async Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, PageCursor? cursor)
    {
        var after = cursor ?? new PageCursor(DateTime.MaxValue, Guid.AllBitsSet);
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(Feed, connection)
        {
            Parameters =
            {
                new NpgsqlParameter<DateTime> { TypedValue = DateTime.SpecifyKind(after.CreatedAt, DateTimeKind.Utc), NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new NpgsqlParameter<Guid> { TypedValue = after.Id },
                new NpgsqlParameter<int> { TypedValue = limit + 1 },
            },
        };
        await command.PrepareAsync();
        var rows = new List<StatusUpdateWithAuthor>(limit + 1);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add(new StatusUpdateWithAuthor(ReadStatusUpdate(reader, 0), ReadUser(reader, 5)));
            }
        }

        if (rows.Count <= limit)
        {
            return new Page<StatusUpdateWithAuthor>(rows, null);
        }

        rows.RemoveAt(rows.Count - 1);
        return new Page<StatusUpdateWithAuthor>(rows, PageCursor.After(rows[^1].StatusUpdate));
    }

    /// <summary>Users and all their updates: two statements in one batch, one round trip.</summary>
    public async Task<List<UserWithStatusUpdates>> GetUsersWithStatusUpdatesAsync(Guid[] ids)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(UsersByIds) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = ids } } },
                new NpgsqlBatchCommand(UpdatesByUsers) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = ids } } },
            },
        };
        await batch.PrepareAsync();
        var users = new Dictionary<Guid, User>(ids.Length);
        var updates = new Dictionary<Guid, List<StatusUpdate>>(ids.Length);
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var user = ReadUser(reader, 0);
                users[user.Id] = user;
            }

            await reader.NextResultAsync();
            List<StatusUpdate>? current = null;
            while (await reader.ReadAsync())
            {
                var update = ReadStatusUpdate(reader, 0);
                if (current is null || current[0].UserId != update.UserId)
                {
                    current = [];
                    updates[update.UserId] = current;
                }

                current.Add(update);
            }
        }

        var result = new List<UserWithStatusUpdates>(users.Count);
        foreach (var id in ids)
        {
            if (users.TryGetValue(id, out var user))
            {
                result.Add(new UserWithStatusUpdates(user, updates.TryGetValue(id, out var list) ? list : []));
            }
        }

        return result;
    }

    /// <summary>Binary COPY with typed writes: what ImportAsync does, without its validation.</summary>
    public async Task<ulong> ImportAsync(IReadOnlyList<StatusUpdate> rows)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var importer = await connection.BeginBinaryImportAsync("COPY status_updates (id, user_id, message, category, created_at) FROM STDIN (FORMAT BINARY)");
        foreach (var row in rows)
        {
            await importer.StartRowAsync();
            await importer.WriteAsync(row.Id, NpgsqlDbType.Uuid);
            await importer.WriteAsync(row.UserId, NpgsqlDbType.Uuid);
            await importer.WriteAsync(row.Message, NpgsqlDbType.Text);
            await importer.WriteAsync(row.Category, NpgsqlDbType.Varchar);
            await importer.WriteAsync(row.CreatedAt, NpgsqlDbType.TimestampTz);
        }

        return await importer.CompleteAsync();
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    internal static User ReadUser(NpgsqlDataReader reader, int at) => new(
        reader.GetGuid(at),
        reader.GetString(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetString(at + 4),
        reader.IsDBNull(at + 5) ? null : reader.GetString(at + 5),
        reader.GetInt32(at + 6),
        reader.GetInt32(at + 7),
        reader.GetInt32(at + 8),
        reader.IsDBNull(at + 9) ? null : reader.GetFieldValue<DateOnly>(at + 9),
        reader.GetFieldValue<DateTime>(at + 10));

    internal static StatusUpdate ReadStatusUpdate(NpgsqlDataReader reader, int at) => new(
        reader.GetGuid(at),
        reader.GetGuid(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetFieldValue<DateTime>(at + 4));
}
