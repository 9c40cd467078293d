using Npgsql;

namespace StatusData.Internal;

/// <summary>
/// <c>users</c>, in hand-written SQL: every statement runs prepared with positional parameters and is read
/// by ordinal (<see cref="Prepared"/>). Each public method is one span (<see cref="Telemetry"/>).
/// </summary>
internal sealed class UserRepository(Session session) : IUserRepository
{
    internal const string InsertSql = """
        INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, NULL, $7)
        """;

    public async Task<User> CreateAsync(string username, string displayName, string email, string passwordHash, string? avatarUrl = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.create_user", Access.Write, session);
        try
        {
            Guard.Text(username, SchemaLimits.Username, nameof(username));
            Guard.Text(displayName, SchemaLimits.DisplayName, nameof(displayName));
            Guard.Text(email, SchemaLimits.Email, nameof(email));
            Guard.Text(passwordHash, SchemaLimits.PasswordHash, nameof(passwordHash));
            Guard.OptionalText(avatarUrl, SchemaLimits.AvatarUrl, nameof(avatarUrl));

            // UUIDv7: time-ordered, so new rows append to the primary-key index instead of splitting random pages.
            var user = new User(Guid.CreateVersion7(session.Time.GetUtcNow()), username, displayName, email, passwordHash, avatarUrl, 0, 0, 0, null, session.UtcNow());
            NpgsqlParameter[] parameters =
            [
                Prepared.Value(user.Id),
                Prepared.Value(user.Username),
                Prepared.Value(user.DisplayName),
                Prepared.Value(user.Email),
                Prepared.Value(user.PasswordHash),
                Prepared.Nullable(user.AvatarUrl),
                Prepared.Value(user.CreatedAt),
            ];
            await session.ExecuteAsync(InsertSql, parameters, cancellationToken).ConfigureAwait(false);
            Telemetry.Completed(span, written: true);
            return user;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    internal const string GetByIdSql = $"SELECT {Prepared.UserColumns} FROM users WHERE id = $1";

    public async Task<User?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_user", Access.Read, session);
        try
        {
            return await QueryUserAsync(GetByIdSql, [Prepared.Value(id)], Access.Read, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken = default) =>
        GetByUniqueAsync("statusdata.get_user_by_username", $"SELECT {Prepared.UserColumns} FROM users WHERE username = $1", username, nameof(username), cancellationToken);

    public Task<User?> GetByEmailAsync(string email, CancellationToken cancellationToken = default) =>
        GetByUniqueAsync("statusdata.get_user_by_email", $"SELECT {Prepared.UserColumns} FROM users WHERE email = $1", email, nameof(email), cancellationToken);

    /// <summary>The user whose unique text column (username or email, each with its unique index) equals <paramref name="value"/>.</summary>
    private async Task<User?> GetByUniqueAsync(string operation, string sql, string value, string parameterName, CancellationToken cancellationToken)
    {
        using var span = Telemetry.Start(operation, Access.Read, session);
        try
        {
            Guard.Lookup(value, parameterName);
            return await QueryUserAsync(sql, [Prepared.Value(value)], Access.Read, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<User> UpdateProfileAsync(Guid id, string displayName, string email, string? avatarUrl, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.update_profile", Access.Write, session);
        try
        {
            Guard.Text(displayName, SchemaLimits.DisplayName, nameof(displayName));
            Guard.Text(email, SchemaLimits.Email, nameof(email));
            Guard.OptionalText(avatarUrl, SchemaLimits.AvatarUrl, nameof(avatarUrl));
            const string sql = $"""
                UPDATE users SET display_name = $2, email = $3, avatar_url = $4
                WHERE id = $1
                RETURNING {Prepared.UserColumns}
                """;
            var updated = await QueryUserAsync(
                    sql,
                    [Prepared.Value(id), Prepared.Value(displayName), Prepared.Value(email), Prepared.Nullable(avatarUrl)],
                    Access.Write,
                    cancellationToken).ConfigureAwait(false)
                ?? throw new UserNotFoundException(id);
            Telemetry.Completed(span, written: true);
            return updated;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    public async Task SetPasswordHashAsync(Guid id, string passwordHash, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.set_password_hash", Access.Write, session);
        try
        {
            Guard.Text(passwordHash, SchemaLimits.PasswordHash, nameof(passwordHash));
            const string sql = "UPDATE users SET password_hash = $2 WHERE id = $1";
            NpgsqlParameter[] parameters = [Prepared.Value(id), Prepared.Value(passwordHash)];
            var updated = await session.ExecuteAsync(sql, parameters, cancellationToken).ConfigureAwait(false);
            if (updated == 0)
            {
                throw new UserNotFoundException(id);
            }

            Telemetry.Completed(span, written: true);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.delete_user", Access.Write, session);
        try
        {
            // One round trip, one implicit transaction (or the caller's). The user row is locked first, so a
            // concurrent post either committed before (its update is then deleted here) or waits and then
            // finds no user: never an orphaned status update, never a foreign-key failure.
            const string lockUser = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE";
            const string deleteUpdates = "DELETE FROM status_updates WHERE user_id = $1";
            const string deleteUser = "DELETE FROM users WHERE id = $1";
            var deleted = await session.RunAsync(
                Access.Write,
                async connection =>
                {
                    var batch = new NpgsqlBatch(connection, session.Transaction)
                    {
                        BatchCommands =
                        {
                            new NpgsqlBatchCommand(lockUser) { Parameters = { Prepared.Value(id) } },
                            new NpgsqlBatchCommand(deleteUpdates) { Parameters = { Prepared.Value(id) } },
                            new NpgsqlBatchCommand(deleteUser) { Parameters = { Prepared.Value(id) } },
                        },
                    };
                    await using (batch.ConfigureAwait(false))
                    {
                        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                        return batch.BatchCommands[2].RecordsAffected == 1;
                    }
                },
                cancellationToken).ConfigureAwait(false);
            Telemetry.Completed(span, written: deleted);
            return deleted;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    public async Task<IReadOnlyList<User>> GetLeaderboardAsync(int count, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_leaderboard", Access.Read, session);
        try
        {
            Guard.PageSize(count, nameof(count));
            const string sql = $"""
                SELECT {Prepared.UserColumns}
                FROM users
                ORDER BY xp DESC, id
                LIMIT $1
                """;
            return await QueryUsersAsync(sql, [Prepared.Value(count)], count, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<Page<User>> ListAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.list_users", Access.Read, session);
        try
        {
            Guard.PageSize(limit, nameof(limit));
            var cursor = after ?? Paging.Start;
            const string sql = $"""
                SELECT {Prepared.UserColumns}
                FROM users
                WHERE (created_at, id) > ($1, $2)
                ORDER BY created_at, id
                LIMIT $3
                """;
            var rows = await QueryUsersAsync(
                sql,
                [Paging.CursorTimestamp(cursor, nameof(after)), Prepared.Value(cursor.Id), Prepared.Value(limit + 1)],
                limit + 1,
                cancellationToken).ConfigureAwait(false);
            return Paging.ToPage(rows, limit, PageCursor.After);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<UserWithStatusUpdates?> GetWithStatusUpdatesAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_user_with_status_updates", Access.Read, session);
        try
        {
            var found = await QueryWithStatusUpdatesAsync([id], cancellationToken).ConfigureAwait(false);
            return found.Count == 0 ? null : found[0];
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<IReadOnlyList<UserWithStatusUpdates>> GetManyWithStatusUpdatesAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_users_with_status_updates", Access.Read, session);
        try
        {
            ArgumentNullException.ThrowIfNull(ids);
            return ids.Count == 0 ? [] : await QueryWithStatusUpdatesAsync(ids.Distinct().ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    internal const string UsersByIdsSql = $"SELECT {Prepared.UserColumns} FROM users WHERE id = ANY($1)";

    internal const string UpdatesByUsersSql = $"""
        SELECT {Prepared.StatusUpdateColumns}
        FROM status_updates
        WHERE user_id = ANY($1)
        ORDER BY user_id, created_at DESC, id DESC
        """;

    /// <summary>
    /// Selectin loading: one query for the users and one for all of their updates, sent together in one
    /// batch (one round trip), in the order of <paramref name="ids"/> (distinct), skipping ids without a user.
    /// </summary>
    private ValueTask<List<UserWithStatusUpdates>> QueryWithStatusUpdatesAsync(Guid[] ids, CancellationToken cancellationToken) =>
        session.RunAsync(
            Access.Read,
            async connection =>
            {
                var batch = new NpgsqlBatch(connection, session.Transaction)
                {
                    BatchCommands =
                    {
                        new NpgsqlBatchCommand(UsersByIdsSql) { Parameters = { Prepared.Value(ids) } },
                        new NpgsqlBatchCommand(UpdatesByUsersSql) { Parameters = { Prepared.Value(ids) } },
                    },
                };
                await using (batch.ConfigureAwait(false))
                {
                    if (session.Options.PrepareStatements)
                    {
                        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
                    }

                    var byId = new Dictionary<Guid, User>(ids.Length);
                    var updatesOf = new Dictionary<Guid, List<StatusUpdate>>(ids.Length);
                    var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            var user = Prepared.ReadUser(reader, 0);
                            byId[user.Id] = user;
                        }

                        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);

                        // Ordered by user_id: each user's updates are one run of rows.
                        List<StatusUpdate>? run = null;
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            var update = Prepared.ReadStatusUpdate(reader, 0);
                            if (run is null || run[0].UserId != update.UserId)
                            {
                                run = [];
                                updatesOf[update.UserId] = run;
                            }

                            run.Add(update);
                        }
                    }

                    var result = new List<UserWithStatusUpdates>(byId.Count);
                    foreach (var id in ids)
                    {
                        if (byId.TryGetValue(id, out var user))
                        {
                            result.Add(new UserWithStatusUpdates(user, updatesOf.TryGetValue(id, out var list) ? list : []));
                        }
                    }

                    return result;
                }
            },
            cancellationToken);

    private ValueTask<User?> QueryUserAsync(string sql, NpgsqlParameter[] parameters, Access access, CancellationToken cancellationToken) =>
        session.QuerySingleAsync(access, sql, parameters, static reader => Prepared.ReadUser(reader, 0), cancellationToken);

    private ValueTask<List<User>> QueryUsersAsync(string sql, NpgsqlParameter[] parameters, int capacity, CancellationToken cancellationToken) =>
        session.QueryListAsync(sql, parameters, capacity, static reader => Prepared.ReadUser(reader, 0), cancellationToken);
}
