using Npgsql;
using NpgsqlTypes;
using StatusData.Internal;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// The limit for a .NET client: hand-written <see cref="NpgsqlCommand"/>s with positional <c>$n</c>
/// parameters (no SQL rewriting on the client), explicitly prepared (Npgsql keeps the server-side
/// statement on the physical connection across pool checkouts, so from the second call on
/// <c>Prepare</c> sends nothing), read by ordinal into StatusData's own records. The SQL is
/// StatusData's, statement for statement, so the ratio isolates the library's own cost.
/// </summary>
internal sealed class RawNpgsql(string connectionString) : Contender
{
    // StatusData's own statements and row readers (InternalsVisibleTo), so the ratio is the library's cost alone.
    private const string SelectUserById = UserRepository.GetByIdSql;
    private const string InsertUser = UserRepository.InsertSql;
    private const string Post = StatusUpdateRepository.PostSql;
    private const string Feed = StatusUpdateRepository.FeedSql;
    private const string UsersByIds = UserRepository.UsersByIdsSql;
    private const string UpdatesByUsers = UserRepository.UpdatesByUsersSql;

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
                new NpgsqlParameter<DateTime> { TypedValue = user.CreatedAt },
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

    private static User ReadUser(NpgsqlDataReader reader, int at) => Prepared.ReadUser(reader, at);

    private static StatusUpdate ReadStatusUpdate(NpgsqlDataReader reader, int at) => Prepared.ReadStatusUpdate(reader, at);
}
