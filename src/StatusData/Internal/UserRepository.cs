using Dapper;
using Npgsql;

namespace StatusData.Internal;

/// <summary>
/// <c>users</c>, in hand-written SQL. Single-row statements run prepared with positional parameters
/// and are read by ordinal (<see cref="Prepared"/>); lists go through Dapper, whose columns are aliased
/// to the <see cref="User"/> constructor's parameter names because Dapper maps positional records by
/// name, count, order and type.
/// </summary>
internal sealed class UserRepository(Session session) : IUserRepository
{
    public async Task<User> CreateAsync(string username, string displayName, string email, string passwordHash, string? avatarUrl = null, CancellationToken cancellationToken = default)
    {
        Guard.Text(username, 50, nameof(username));
        Guard.Text(displayName, 100, nameof(displayName));
        Guard.Text(email, 255, nameof(email));
        Guard.Text(passwordHash, 255, nameof(passwordHash));
        Guard.OptionalText(avatarUrl, 500, nameof(avatarUrl));

        // UUIDv7: time-ordered, so new rows append to the primary-key index instead of splitting random pages.
        var user = new User(Guid.CreateVersion7(session.Time.GetUtcNow()), username, displayName, email, passwordHash, avatarUrl, 0, 0, 0, null, session.UtcNow());
        const string sql = """
            INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, NULL, $7)
            """;
        await session.RunAsync(
            Access.Write,
            connection => Prepared.ExecuteAsync(
                session,
                connection,
                sql,
                [
                    Prepared.Value(user.Id),
                    Prepared.Value(user.Username),
                    Prepared.Value(user.DisplayName),
                    Prepared.Value(user.Email),
                    Prepared.Value(user.PasswordHash),
                    Prepared.Nullable(user.AvatarUrl),
                    Prepared.Value(user.CreatedAt),
                ],
                cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return user;
    }

    public Task<User?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        QueryUserAsync("SELECT id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at FROM users WHERE id = $1", [Prepared.Value(id)], Access.Read, cancellationToken);

    public Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken = default)
    {
        Guard.Lookup(username, nameof(username));
        return QueryUserAsync("SELECT id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at FROM users WHERE username = $1", [Prepared.Value(username)], Access.Read, cancellationToken);
    }

    public Task<User?> GetByEmailAsync(string email, CancellationToken cancellationToken = default)
    {
        Guard.Lookup(email, nameof(email));
        return QueryUserAsync("SELECT id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at FROM users WHERE email = $1", [Prepared.Value(email)], Access.Read, cancellationToken);
    }

    public async Task<User> UpdateProfileAsync(Guid id, string displayName, string email, string? avatarUrl, CancellationToken cancellationToken = default)
    {
        Guard.Text(displayName, 100, nameof(displayName));
        Guard.Text(email, 255, nameof(email));
        Guard.OptionalText(avatarUrl, 500, nameof(avatarUrl));
        const string sql = """
            UPDATE users SET display_name = $2, email = $3, avatar_url = $4
            WHERE id = $1
            RETURNING id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at
            """;
        return await QueryUserAsync(
                sql,
                [Prepared.Value(id), Prepared.Value(displayName), Prepared.Value(email), Prepared.Nullable(avatarUrl)],
                Access.Write,
                cancellationToken).ConfigureAwait(false)
            ?? throw new UserNotFoundException(id);
    }

    public async Task SetPasswordHashAsync(Guid id, string passwordHash, CancellationToken cancellationToken = default)
    {
        Guard.Text(passwordHash, 255, nameof(passwordHash));
        const string sql = "UPDATE users SET password_hash = $2 WHERE id = $1";
        var updated = await session.RunAsync(
            Access.Write,
            connection => Prepared.ExecuteAsync(session, connection, sql, [Prepared.Value(id), Prepared.Value(passwordHash)], cancellationToken),
            cancellationToken).ConfigureAwait(false);
        if (updated == 0)
        {
            throw new UserNotFoundException(id);
        }
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        // One round trip, one implicit transaction (or the caller's). The user row is locked first, so a
        // concurrent post either committed before (its update is then deleted here) or waits and then
        // finds no user: never an orphaned status update, never a foreign-key failure.
        const string lockUser = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE";
        const string deleteUpdates = "DELETE FROM status_updates WHERE user_id = $1";
        const string deleteUser = "DELETE FROM users WHERE id = $1";
        return await session.RunAsync(
            Access.Write,
            async connection =>
            {
                var batch = new NpgsqlBatch(connection, session.Transaction)
                {
                    BatchCommands =
                    {
                        new NpgsqlBatchCommand(lockUser) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } },
                        new NpgsqlBatchCommand(deleteUpdates) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } },
                        new NpgsqlBatchCommand(deleteUser) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } },
                    },
                };
                await using (batch.ConfigureAwait(false))
                {
                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    return batch.BatchCommands[2].RecordsAffected == 1;
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<User>> GetLeaderboardAsync(int count, CancellationToken cancellationToken = default)
    {
        Guard.PageSize(count, nameof(count));
        const string sql = """
            SELECT id, username, display_name AS displayname, email, password_hash AS passwordhash, avatar_url AS avatarurl,
                   xp, current_streak AS currentstreak, longest_streak AS longeststreak, last_post_date AS lastpostdate, created_at AS createdat
            FROM users
            ORDER BY xp DESC, id
            LIMIT @count
            """;
        return await QueryAsync(sql, new { count }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<User>> ListAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        Guard.PageSize(limit, nameof(limit));
        var cursor = after ?? DbValue.Start;
        const string sql = """
            SELECT id, username, display_name AS displayname, email, password_hash AS passwordhash, avatar_url AS avatarurl,
                   xp, current_streak AS currentstreak, longest_streak AS longeststreak, last_post_date AS lastpostdate, created_at AS createdat
            FROM users
            WHERE (created_at, id) > (@afterCreatedAt, @afterId)
            ORDER BY created_at, id
            LIMIT @take
            """;
        var rows = await QueryAsync(
            sql,
            new { afterCreatedAt = DbValue.CursorTimestamp(cursor, nameof(after)), afterId = cursor.Id, take = limit + 1 },
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    public async Task<UserWithStatusUpdates?> GetWithStatusUpdatesAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var found = await GetManyWithStatusUpdatesAsync([id], cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    public async Task<IReadOnlyList<UserWithStatusUpdates>> GetManyWithStatusUpdatesAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return [];
        }

        // Selectin loading: one query for the users and one for all of their updates, sent together.
        const string sql = """
            SELECT id, username, display_name AS displayname, email, password_hash AS passwordhash, avatar_url AS avatarurl,
                   xp, current_streak AS currentstreak, longest_streak AS longeststreak, last_post_date AS lastpostdate, created_at AS createdat
            FROM users
            WHERE id = ANY(@ids);

            SELECT id, user_id AS userid, message, category, created_at AS createdat
            FROM status_updates
            WHERE user_id = ANY(@ids)
            ORDER BY user_id, created_at DESC, id DESC;
            """;
        var distinct = ids.Distinct().ToArray();
        return await session.RunAsync(
            Access.Read,
            async connection =>
            {
                var reader = await connection.QueryMultipleAsync(new CommandDefinition(sql, new { ids = distinct }, session.Transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var users = (await reader.ReadAsync<User>().ConfigureAwait(false)).ToDictionary(u => u.Id);
                    var updates = (await reader.ReadAsync<StatusUpdate>().ConfigureAwait(false)).ToLookup(s => s.UserId);
                    return (IReadOnlyList<UserWithStatusUpdates>)distinct
                        .Where(users.ContainsKey)
                        .Select(userId => new UserWithStatusUpdates(users[userId], updates[userId].ToList()))
                        .ToList();
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    private Task<User?> QueryUserAsync(string sql, NpgsqlParameter[] parameters, Access access, CancellationToken cancellationToken) =>
        session.RunAsync(
            access,
            connection => Prepared.QuerySingleAsync(session, connection, sql, parameters, static reader => Prepared.ReadUser(reader, 0), cancellationToken),
            cancellationToken);

    private async Task<List<User>> QueryAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        (await session.RunAsync(
            Access.Read,
            connection => connection.QueryAsync<User>(new CommandDefinition(sql, parameters, session.Transaction, cancellationToken: cancellationToken)),
            cancellationToken).ConfigureAwait(false)).AsList();
}
