using Dapper;

namespace StatusData.Internal;

/// <summary>
/// <c>users</c>, in hand-written SQL run by Dapper through <see cref="Session.RunAsync"/>, which maps each row onto
/// <see cref="User"/> by the aliases of <see cref="StatusDataColumns.User"/>.
/// </summary>
internal sealed class UserRepository(Session session) : IUserRepository
{
    internal const string InsertSql = """
        INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
        VALUES (@Id, @Username, @DisplayName, @Email, @PasswordHash, @AvatarUrl, 0, 0, 0, NULL, @CreatedAt)
        """;

    public async Task<User> CreateAsync(string username, string displayName, string email, string passwordHash, string? avatarUrl = null, CancellationToken cancellationToken = default)
    {
        var refused = Guard.Text(username, SchemaLimits.Username, nameof(username))
            ?? Guard.Text(displayName, SchemaLimits.DisplayName, nameof(displayName))
            ?? Guard.Text(email, SchemaLimits.Email, nameof(email))
            ?? Guard.Text(passwordHash, SchemaLimits.PasswordHash, nameof(passwordHash))
            ?? Guard.OptionalText(avatarUrl, SchemaLimits.AvatarUrl, nameof(avatarUrl));

        // UUIDv7: time-ordered, so new rows append to the primary-key index instead of splitting random pages.
        var user = new User(Guid.CreateVersion7(session.Time.GetUtcNow()), username, displayName, email, passwordHash, avatarUrl, 0, 0, 0, null, session.UtcNow());
        var parameters = new { user.Id, user.Username, user.DisplayName, user.Email, user.PasswordHash, user.AvatarUrl, CreatedAt = Paging.Timestamptz(user.CreatedAt) };
        await session.RunAsync(new("statusdata.create_user", Access.Write) { Refused = refused }, InsertSql, parameters, static (c, command) => c.ExecuteAsync(command), cancellationToken).ConfigureAwait(false);
        return user;
    }

    internal const string GetByIdSql = $"SELECT {StatusDataColumns.User} FROM users WHERE id = @id";

    public Task<User?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        session.RunAsync(new("statusdata.get_user", Access.Read), GetByIdSql, new { id }, static (c, command) => c.QueryFirstOrDefaultAsync<User>(command), cancellationToken);

    internal const string GetByUsernameSql = $"SELECT {StatusDataColumns.User} FROM users WHERE username = @value";

    public Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken = default) =>
        GetByUniqueAsync("statusdata.get_user_by_username", GetByUsernameSql, username, nameof(username), cancellationToken);

    internal const string GetByEmailSql = $"SELECT {StatusDataColumns.User} FROM users WHERE email = @value";

    public Task<User?> GetByEmailAsync(string email, CancellationToken cancellationToken = default) =>
        GetByUniqueAsync("statusdata.get_user_by_email", GetByEmailSql, email, nameof(email), cancellationToken);

    /// <summary>The user whose unique text column (username or email, each with its unique index) equals <paramref name="value"/>.</summary>
    private Task<User?> GetByUniqueAsync(string operation, string sql, string value, string parameterName, CancellationToken cancellationToken) =>
        session.RunAsync(
            new(operation, Access.Read) { Refused = Guard.Lookup(value, parameterName) },
            sql,
            new { value },
            static (c, command) => c.QueryFirstOrDefaultAsync<User>(command),
            cancellationToken);

    public Task<User> UpdateProfileAsync(Guid id, string displayName, string email, string? avatarUrl, CancellationToken cancellationToken = default)
    {
        var refused = Guard.Text(displayName, SchemaLimits.DisplayName, nameof(displayName))
            ?? Guard.Text(email, SchemaLimits.Email, nameof(email))
            ?? Guard.OptionalText(avatarUrl, SchemaLimits.AvatarUrl, nameof(avatarUrl));
        const string sql = $"""
            UPDATE users SET display_name = @displayName, email = @email, avatar_url = @avatarUrl
            WHERE id = @id
            RETURNING {StatusDataColumns.User}
            """;
        return session.RunAsync(
            new("statusdata.update_profile", Access.Write) { Refused = refused, RequiredUser = id },
            sql,
            new { id, displayName, email, avatarUrl },
            static (c, command) => c.QueryFirstOrDefaultAsync<User>(command),
            cancellationToken)!;
    }

    public Task SetPasswordHashAsync(Guid id, string passwordHash, CancellationToken cancellationToken = default) =>
        session.RunAsync(
            new("statusdata.set_password_hash", Access.Write) { Refused = Guard.Text(passwordHash, SchemaLimits.PasswordHash, nameof(passwordHash)), RequiredUser = id },
            "UPDATE users SET password_hash = @passwordHash WHERE id = @id",
            new { id, passwordHash },
            static (c, command) => c.ExecuteAsync(command),
            cancellationToken);

    public Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        // Three statements in one command: Npgsql sends them in one round trip, in one implicit transaction (or
        // the caller's). The user row is locked first, so a concurrent post either committed before (its update
        // is then deleted here) or waits and then finds no user: never an orphaned status update, never a
        // foreign-key failure. The result is the first statement's: whether the user was there to delete.
        const string sql = """
            SELECT true FROM users WHERE id = @id FOR UPDATE;
            DELETE FROM status_updates WHERE user_id = @id;
            DELETE FROM users WHERE id = @id
            """;
        return session.RunAsync(new("statusdata.delete_user", Access.Write), sql, new { id }, static (c, command) => c.ExecuteScalarAsync<bool>(command), cancellationToken);
    }

    public async Task<IReadOnlyList<User>> GetLeaderboardAsync(int count, CancellationToken cancellationToken = default)
    {
        const string sql = $"""
            SELECT {StatusDataColumns.User}
            FROM users
            ORDER BY xp DESC, id
            LIMIT @count
            """;
        var rows = await session.RunAsync(
            new("statusdata.get_leaderboard", Access.Read) { Refused = Guard.PageSize(count, nameof(count)) },
            sql,
            new { count },
            static (c, command) => c.QueryAsync<User>(command),
            cancellationToken).ConfigureAwait(false);
        return rows.AsList();
    }

    public async Task<Page<User>> ListAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        const string sql = $"""
            SELECT {StatusDataColumns.User}
            FROM users
            WHERE (created_at, id) > (@CreatedAt, @Id)
            ORDER BY created_at, id
            LIMIT @Limit
            """;
        var (createdAt, lastId) = Paging.After(after);
        var rows = await session.RunAsync(
            new("statusdata.list_users", Access.Read) { Refused = Guard.PageSize(limit, nameof(limit)) ?? Paging.Check(after, nameof(after)) },
            sql,
            new { CreatedAt = createdAt, Id = lastId, Limit = limit + 1 },
            static (c, command) => c.QueryAsync<User>(command),
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    public async Task<UserWithStatusUpdates?> GetWithStatusUpdatesAsync(Guid id, CancellationToken cancellationToken = default)
    {
        Guid[] ids = [id];
        var (users, updates) = await session.RunAsync(new("statusdata.get_user_with_status_updates", Access.Read), WithStatusUpdatesSql, new { ids }, ReadWithStatusUpdates, cancellationToken).ConfigureAwait(false);
        return Group(ids, users, updates).FirstOrDefault();
    }

    public async Task<IReadOnlyList<UserWithStatusUpdates>> GetManyWithStatusUpdatesAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default)
    {
        if (ids is { Count: 0 })
        {
            return [];
        }

        var distinct = ids?.Distinct().ToArray() ?? [];
        var (users, updates) = await session.RunAsync(
            new("statusdata.get_users_with_status_updates", Access.Read) { Refused = Guard.NotNull(ids, nameof(ids)) },
            WithStatusUpdatesSql,
            new { ids = distinct },
            ReadWithStatusUpdates,
            cancellationToken).ConfigureAwait(false);
        return Group(distinct, users, updates);
    }

    /// <summary>
    /// Selectin loading: the users, then all of their updates, two statements in one command (one round trip),
    /// each result mapped by Dapper. The updates come ordered by user, newest first within each user.
    /// </summary>
    internal const string WithStatusUpdatesSql = $"""
        SELECT {StatusDataColumns.User} FROM users WHERE id = ANY(@ids);
        SELECT {StatusDataColumns.StatusUpdate}
        FROM status_updates
        WHERE user_id = ANY(@ids)
        ORDER BY user_id, created_at DESC, id DESC
        """;

    private static async Task<(List<User> Users, List<StatusUpdate> Updates)> ReadWithStatusUpdates(Npgsql.NpgsqlConnection connection, CommandDefinition command)
    {
        var results = await connection.QueryMultipleAsync(command).ConfigureAwait(false);
        await using (results.ConfigureAwait(false))
        {
            var users = (await results.ReadAsync<User>().ConfigureAwait(false)).AsList();
            return (users, (await results.ReadAsync<StatusUpdate>().ConfigureAwait(false)).AsList());
        }
    }

    /// <summary>Each user with their updates, in the order of <paramref name="ids"/>, skipping ids without a user.</summary>
    private static List<UserWithStatusUpdates> Group(Guid[] ids, List<User> users, List<StatusUpdate> updates)
    {
        // Ordered by user_id: each user's updates are one run of rows.
        var updatesOf = new Dictionary<Guid, List<StatusUpdate>>(users.Count);
        List<StatusUpdate>? run = null;
        foreach (var update in updates)
        {
            if (run is null || run[0].UserId != update.UserId)
            {
                run = [];
                updatesOf[update.UserId] = run;
            }

            run.Add(update);
        }

        var byId = users.ToDictionary(user => user.Id);
        var result = new List<UserWithStatusUpdates>(users.Count);
        foreach (var id in ids)
        {
            if (byId.TryGetValue(id, out var user))
            {
                result.Add(new UserWithStatusUpdates(user, updatesOf.TryGetValue(id, out var list) ? list : []));
            }
        }

        return result;
    }
}
