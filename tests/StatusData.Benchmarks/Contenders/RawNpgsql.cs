using Npgsql;
using NpgsqlTypes;
using System.Text.RegularExpressions;
using StatusData.Internal;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// The limit for a .NET client: hand-written <see cref="NpgsqlCommand"/>s with positional <c>$n</c>
/// parameters (no SQL rewriting on the client), explicitly prepared (Npgsql keeps the server-side
/// statement on the physical connection across pool checkouts, so from the second call on
/// <c>Prepare</c> sends nothing), read by ordinal into StatusData's own records. The SQL is
/// StatusData's, statement for statement, with its named parameters made positional, so the ratio
/// isolates the library's own cost: Dapper's parameters and mapping, and the span and error handling.
/// </summary>
internal sealed partial class RawNpgsql(string connectionString) : Contender
{
    // StatusData's own statements (InternalsVisibleTo), with @names turned into $n in the order the commands below bind them.
    private static readonly string SelectUserById = Positional(UserRepository.GetByIdSql, "id");
    private static readonly string InsertUser = Positional(UserRepository.InsertSql, "Id", "Username", "DisplayName", "Email", "PasswordHash", "AvatarUrl", "CreatedAt");
    private static readonly string Post = Positional(StatusUpdateRepository.PostSql, "id", "userId", "message", "category", "xpAward", "day", "createdAt");
    private static readonly string Feed = Positional(StatusUpdateRepository.FeedSql, "CreatedAt", "Id", "Limit");
    private static readonly string[] WithUpdates = Positional(UserRepository.WithStatusUpdatesSql, "ids").Split(';');

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public override async Task<User?> GetUserAsync(Guid id)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(SelectUserById, connection) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } };
        await command.PrepareAsync();
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? ReadUser(reader, 0) : null;
    }

    public override async Task<User> CreateUserAsync(string username, string displayName, string email, string passwordHash)
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
                new NpgsqlParameter<DateTime> { TypedValue = user.CreatedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz },
            },
        };
        await command.PrepareAsync();
        await command.ExecuteNonQueryAsync();
        return user;
    }

    public override async Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward)
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

    /// <summary>Keyset paging; for page 1, StatusData's own sentinel cursor (+infinity, max uuid).</summary>
    public override async Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, int offset, PageCursor? after)
    {
        var cursor = after ?? new PageCursor(DateTime.MaxValue, Guid.AllBitsSet);
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(Feed, connection)
        {
            Parameters =
            {
                new NpgsqlParameter<DateTime> { TypedValue = DateTime.SpecifyKind(cursor.CreatedAt, DateTimeKind.Utc), NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new NpgsqlParameter<Guid> { TypedValue = cursor.Id },
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

    public override Task<List<UserWithStatusUpdates>> GetUserWithUpdatesAsync(Guid id) => GetUsersWithUpdatesAsync([id]);

    /// <summary>Users and all their updates: two statements in one batch, one round trip.</summary>
    public override async Task<List<UserWithStatusUpdates>> GetUsersWithUpdatesAsync(Guid[] ids)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(WithUpdates[0]) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = ids } } },
                new NpgsqlBatchCommand(WithUpdates[1]) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = ids } } },
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
    public override async Task<ulong> ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities)
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

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>A <c>users</c> row (<see cref="StatusDataColumns.User"/>), by ordinal from column <paramref name="at"/>.</summary>
    private static User ReadUser(NpgsqlDataReader reader, int at) => new(
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

    /// <summary>A <c>status_updates</c> row (<see cref="StatusDataColumns.StatusUpdate"/>), by ordinal from column <paramref name="at"/>.</summary>
    private static StatusUpdate ReadStatusUpdate(NpgsqlDataReader reader, int at) => new(
        reader.GetGuid(at),
        reader.GetGuid(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetFieldValue<DateTime>(at + 4));

    /// <summary><paramref name="sql"/> with each <c>@name</c> replaced by <c>$n</c>, n its place in <paramref name="names"/>.</summary>
    private static string Positional(string sql, params string[] names) =>
        NamedParameter().Replace(sql, match => Array.IndexOf(names, match.Groups[1].Value) is var i and >= 0
            ? "$" + (i + 1)
            : throw new InvalidOperationException($"@{match.Groups[1].Value} is not among the parameters the raw contender binds."));

    [GeneratedRegex(@"@(\w+)")]
    private static partial Regex NamedParameter();
}
