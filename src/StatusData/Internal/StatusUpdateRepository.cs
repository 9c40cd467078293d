using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace StatusData.Internal;

/// <summary>
/// <c>status_updates</c>, in hand-written SQL. Lists seek on <c>(created_at, id)</c> through the
/// indexes of migration 202611220900, so a deep page costs what the first one costs. Single-row
/// statements run prepared with positional parameters and are read by ordinal (<see cref="Prepared"/>);
/// lists go through Dapper.
/// </summary>
internal sealed class StatusUpdateRepository(Session session) : IStatusUpdateRepository
{
    private const string ImportSavepoint = "statusdata_import";

    public async Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward, DateOnly? day = null, CancellationToken cancellationToken = default)
    {
        Guard.Text(message, session.Options.MaxMessageLength, nameof(message));
        Guard.Text(category, 20, nameof(category));
        ArgumentOutOfRangeException.ThrowIfNegative(xpAward);

        // One statement: the UPDATE locks the author's row, so concurrent posts by one user serialize
        // and each computes its streak from the row as the previous post left it (READ COMMITTED
        // re-evaluates the SET expressions on the latest row version). The INSERT takes the author
        // from the UPDATE, so a missing user inserts nothing.
        const string sql = """
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
        NpgsqlParameter[] parameters =
        [
            Prepared.Value(Guid.CreateVersion7(session.Time.GetUtcNow())),
            Prepared.Value(userId),
            Prepared.Value(message),
            Prepared.Value(category),
            Prepared.Value(xpAward),
            Prepared.Value(day ?? session.UtcToday()),
            Prepared.Value(session.UtcNow()),
        ];
        try
        {
            return await QueryWithAuthorSingleAsync(sql, parameters, Access.Write, cancellationToken).ConfigureAwait(false)
                ?? throw new UserNotFoundException(userId);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            throw new UserNotFoundException(userId, e);
        }
    }

    public async Task<StatusUpdateWithAuthor?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT s.id, s.user_id, s.message, s.category, s.created_at,
                   u.id, u.username, u.display_name, u.email, u.password_hash, u.avatar_url,
                   u.xp, u.current_streak, u.longest_streak, u.last_post_date, u.created_at
            FROM status_updates s
            JOIN users u ON u.id = s.user_id
            WHERE s.id = $1
            """;
        return await QueryWithAuthorSingleAsync(sql, [Prepared.Value(id)], Access.Read, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<StatusUpdate>> ListByUserAsync(Guid userId, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        Guard.PageSize(limit, nameof(limit));
        var cursor = after ?? DbValue.End;
        const string sql = """
            SELECT id, user_id AS userid, message, category, created_at AS createdat
            FROM status_updates
            WHERE user_id = @userId AND (created_at, id) < (@beforeCreatedAt, @beforeId)
            ORDER BY created_at DESC, id DESC
            LIMIT @take
            """;
        var rows = await QueryAsync(
            sql,
            new { userId, beforeCreatedAt = DbValue.CursorTimestamp(cursor, nameof(after)), beforeId = cursor.Id, take = limit + 1 },
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    public async Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        Guard.PageSize(limit, nameof(limit));
        var cursor = after ?? DbValue.End;

        // Joined loading with Dapper multi-mapping: each row is a status update, then (from the second
        // "id" column on) its author.
        const string sql = """
            SELECT s.id, s.user_id AS userid, s.message, s.category, s.created_at AS createdat,
                   u.id, u.username, u.display_name AS displayname, u.email, u.password_hash AS passwordhash, u.avatar_url AS avatarurl,
                   u.xp, u.current_streak AS currentstreak, u.longest_streak AS longeststreak, u.last_post_date AS lastpostdate, u.created_at AS createdat
            FROM status_updates s
            JOIN users u ON u.id = s.user_id
            WHERE (s.created_at, s.id) < (@beforeCreatedAt, @beforeId)
            ORDER BY s.created_at DESC, s.id DESC
            LIMIT @take
            """;
        var parameters = new { beforeCreatedAt = DbValue.CursorTimestamp(cursor, nameof(after)), beforeId = cursor.Id, take = limit + 1 };
        var rows = await session.RunAsync(
            Access.Read,
            connection => connection.QueryAsync<StatusUpdate, User, StatusUpdateWithAuthor>(
                new CommandDefinition(sql, parameters, session.Transaction, cancellationToken: cancellationToken),
                (statusUpdate, author) => new StatusUpdateWithAuthor(statusUpdate, author),
                splitOn: "id"),
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows.AsList(), limit, row => PageCursor.After(row.StatusUpdate));
    }

    public async Task<Page<StatusUpdate>> ListByCategoryAsync(string category, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        Guard.Lookup(category, nameof(category));
        Guard.PageSize(limit, nameof(limit));
        var cursor = after ?? DbValue.End;
        const string sql = """
            SELECT id, user_id AS userid, message, category, created_at AS createdat
            FROM status_updates
            WHERE category = @category AND (created_at, id) < (@beforeCreatedAt, @beforeId)
            ORDER BY created_at DESC, id DESC
            LIMIT @take
            """;
        var rows = await QueryAsync(
            sql,
            new { category, beforeCreatedAt = DbValue.CursorTimestamp(cursor, nameof(after)), beforeId = cursor.Id, take = limit + 1 },
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    public async Task<long> ImportAsync(IEnumerable<StatusUpdate> statusUpdates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statusUpdates);
        var authors = new HashSet<Guid>();
        try
        {
            return await session.RunAsync(
                Access.Write,
                async connection =>
                {
                    // Inside a caller's transaction a failed COPY (a bad row, a missing author) would abort
                    // the whole transaction; a savepoint confines the failure to this call.
                    var transaction = session.Transaction;
                    if (transaction is not null)
                    {
                        await transaction.SaveAsync(ImportSavepoint, cancellationToken).ConfigureAwait(false);
                    }

                    try
                    {
                        var imported = await CopyAsync(connection, statusUpdates, authors, cancellationToken).ConfigureAwait(false);
                        if (transaction is not null)
                        {
                            await transaction.ReleaseAsync(ImportSavepoint, cancellationToken).ConfigureAwait(false);
                        }

                        return imported;
                    }
                    catch when (transaction is not null && connection.State == System.Data.ConnectionState.Open)
                    {
                        await RollbackToSavepointAsync(transaction).ConfigureAwait(false);
                        throw;
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            var missing = await FirstMissingAuthorAsync(authors, cancellationToken).ConfigureAwait(false);
            throw new UserNotFoundException(missing, e);
        }
    }

    /// <summary>Best effort: if even this fails, the connection is broken and the original error says more.</summary>
    private static async Task RollbackToSavepointAsync(NpgsqlTransaction transaction)
    {
        try
        {
            await transaction.RollbackAsync(ImportSavepoint, CancellationToken.None).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
        }
    }

    /// <summary>One COPY statement: atomic. Leaving without Complete() cancels it, so a bad row or a cancellation writes nothing.</summary>
    private async Task<long> CopyAsync(NpgsqlConnection connection, IEnumerable<StatusUpdate> statusUpdates, HashSet<Guid> authors, CancellationToken cancellationToken)
    {
        const string copy = "COPY status_updates (id, user_id, message, category, created_at) FROM STDIN (FORMAT BINARY)";
        var importer = await connection.BeginBinaryImportAsync(copy, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            var index = 0;
            foreach (var row in statusUpdates)
            {
                ValidateImportRow(row, index++);
                authors.Add(row.UserId);
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(row.UserId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(row.Message, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(row.Category, NpgsqlDbType.Varchar, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(row.CreatedAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            }

            return (long)await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void ValidateImportRow(StatusUpdate row, int index)
    {
        // The common case allocates nothing: the names for the error message are built only for a bad row.
        if (row is not null
            && Guard.IsValidText(row.Message, session.Options.MaxMessageLength)
            && Guard.IsValidText(row.Category, 20)
            && row.CreatedAt.Kind == DateTimeKind.Utc)
        {
            return;
        }

        var name = $"statusUpdates[{index}]";
        if (row is null)
        {
            throw new ArgumentException($"{name} is null.", name);
        }

        Guard.Text(row.Message, session.Options.MaxMessageLength, $"{name}.{nameof(StatusUpdate.Message)}");
        Guard.Text(row.Category, 20, $"{name}.{nameof(StatusUpdate.Category)}");
        if (row.CreatedAt.Kind != DateTimeKind.Utc)
        {
            throw new ArgumentException($"{name}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {row.CreatedAt.Kind}.", $"{name}.{nameof(StatusUpdate.CreatedAt)}");
        }
    }

    private async Task<Guid> FirstMissingAuthorAsync(HashSet<Guid> authors, CancellationToken cancellationToken)
    {
        const string sql = "SELECT a.id FROM unnest(@authors) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.id) LIMIT 1";
        return await session.RunAsync(
            Access.ReadPrimary,
            connection => connection.QuerySingleOrDefaultAsync<Guid>(new CommandDefinition(sql, new { authors = authors.ToArray() }, session.Transaction, cancellationToken: cancellationToken)),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        const string sql = "DELETE FROM status_updates WHERE id = $1";
        var deleted = await session.RunAsync(
            Access.Write,
            connection => Prepared.ExecuteAsync(session, connection, sql, [Prepared.Value(id)], cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return deleted == 1;
    }

    private async Task<List<StatusUpdate>> QueryAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        (await session.RunAsync(
            Access.Read,
            connection => connection.QueryAsync<StatusUpdate>(new CommandDefinition(sql, parameters, session.Transaction, cancellationToken: cancellationToken)),
            cancellationToken).ConfigureAwait(false)).AsList();

    /// <summary>One status update with its author, by a single-row statement (prepared, read by ordinal).</summary>
    private Task<StatusUpdateWithAuthor?> QueryWithAuthorSingleAsync(string sql, NpgsqlParameter[] parameters, Access access, CancellationToken cancellationToken) =>
        session.RunAsync(
            access,
            connection => Prepared.QuerySingleAsync(session, connection, sql, parameters, Prepared.ReadStatusUpdateWithAuthor, cancellationToken),
            cancellationToken);
}
