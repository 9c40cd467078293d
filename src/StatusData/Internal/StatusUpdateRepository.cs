using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;

namespace StatusData.Internal;

/// <summary>
/// <c>status_updates</c>, in hand-written SQL: every statement runs prepared with positional parameters
/// and is read by ordinal (<see cref="Prepared"/>). Lists seek on <c>(created_at, id)</c> through the
/// indexes of migration 202611220900, so a deep page costs what the first one costs. Each public method
/// is one span (<see cref="Telemetry"/>).
/// </summary>
internal sealed class StatusUpdateRepository(Session session) : IStatusUpdateRepository
{
    private const string ImportSavepoint = "statusdata_import";

    // One statement: the UPDATE locks the author's row, so concurrent posts by one user serialize
    // and each computes its streak from the row as the previous post left it (READ COMMITTED
    // re-evaluates the SET expressions on the latest row version). The INSERT takes the author
    // from the UPDATE, so a missing user inserts nothing, and the foreign key cannot fail: the
    // author's row stays locked by this UPDATE until the statement commits.
    internal const string PostSql = $"""
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
            RETURNING {Prepared.UserColumns}
        ),
        inserted AS (
            INSERT INTO status_updates (id, user_id, message, category, created_at)
            SELECT $1, author.id, $3, $4, $7 FROM author
            RETURNING {Prepared.StatusUpdateColumns}
        )
        SELECT {Prepared.StatusUpdateWithAuthorColumns}
        FROM inserted s CROSS JOIN author u
        """;

    public async Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward, DateOnly? day = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.post", Access.Write, session);
        try
        {
            Guard.Text(message, session.Options.MaxMessageLength, nameof(message));
            Guard.Text(category, SchemaLimits.Category, nameof(category));
            ArgumentOutOfRangeException.ThrowIfNegative(xpAward);

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
            var posted = await QueryWithAuthorSingleAsync(PostSql, parameters, Access.Write, cancellationToken).ConfigureAwait(false)
                ?? throw new UserNotFoundException(userId);
            Telemetry.Completed(span, written: true);
            return posted;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    public async Task<StatusUpdateWithAuthor?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_status_update", Access.Read, session);
        try
        {
            const string sql = $"""
                SELECT {Prepared.StatusUpdateWithAuthorColumns}
                FROM status_updates s
                JOIN users u ON u.id = s.user_id
                WHERE s.id = $1
                """;
            return await QueryWithAuthorSingleAsync(sql, [Prepared.Value(id)], Access.Read, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<Page<StatusUpdate>> ListByUserAsync(Guid userId, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.list_status_updates_by_user", Access.Read, session);
        try
        {
            Guard.PageSize(limit, nameof(limit));
            const string sql = $"""
                SELECT {Prepared.StatusUpdateColumns}
                FROM status_updates
                WHERE user_id = $1 AND (created_at, id) < ($2, $3)
                ORDER BY created_at DESC, id DESC
                LIMIT $4
                """;
            return await PageAsync(sql, Prepared.Value(userId), limit, after, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    // Joined loading: each row is a status update, then its author.
    internal const string FeedSql = $"""
        SELECT {Prepared.StatusUpdateWithAuthorColumns}
        FROM status_updates s
        JOIN users u ON u.id = s.user_id
        WHERE (s.created_at, s.id) < ($1, $2)
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT $3
        """;

    public async Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.get_feed", Access.Read, session);
        try
        {
            Guard.PageSize(limit, nameof(limit));
            var cursor = after ?? Paging.End;

            NpgsqlParameter[] parameters = [Paging.CursorTimestamp(cursor, nameof(after)), Prepared.Value(cursor.Id), Prepared.Value(limit + 1)];
            var rows = await session.QueryListAsync(FeedSql, parameters, limit + 1, Prepared.ReadStatusUpdateWithAuthor, cancellationToken).ConfigureAwait(false);
            return Paging.ToPage(rows, limit, static row => PageCursor.After(row.StatusUpdate));
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<Page<StatusUpdate>> ListByCategoryAsync(string category, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.list_status_updates_by_category", Access.Read, session);
        try
        {
            Guard.Lookup(category, nameof(category));
            Guard.PageSize(limit, nameof(limit));
            const string sql = $"""
                SELECT {Prepared.StatusUpdateColumns}
                FROM status_updates
                WHERE category = $1 AND (created_at, id) < ($2, $3)
                ORDER BY created_at DESC, id DESC
                LIMIT $4
                """;
            return await PageAsync(sql, Prepared.Value(category), limit, after, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, session))
        {
            throw;
        }
    }

    public async Task<long> ImportAsync(IEnumerable<StatusUpdate> statusUpdates, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.import_status_updates", Access.Write, session);
        try
        {
            ArgumentNullException.ThrowIfNull(statusUpdates);
            // The authors are needed only to name a missing one. A collection can be read again for that; rows
            // from a single-pass enumerable are remembered as they are copied.
            var authors = statusUpdates is IReadOnlyCollection<StatusUpdate> ? null : new HashSet<Guid>();
            long imported;
            try
            {
                imported = await session.RunAsync(
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
                            var copied = await CopyAsync(connection, statusUpdates, authors, cancellationToken).ConfigureAwait(false);
                            if (transaction is not null)
                            {
                                await transaction.ReleaseAsync(ImportSavepoint, cancellationToken).ConfigureAwait(false);
                            }

                            return copied;
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
                var missing = await FirstMissingAuthorAsync(authors ?? statusUpdates.Select(row => row.UserId).ToHashSet(), cancellationToken).ConfigureAwait(false);
                throw new UserNotFoundException(missing, e);
            }

            Telemetry.Completed(span, written: imported > 0);
            return imported;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
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
    private async Task<long> CopyAsync(NpgsqlConnection connection, IEnumerable<StatusUpdate> statusUpdates, HashSet<Guid>? authors, CancellationToken cancellationToken)
    {
        const string copy = "COPY status_updates (id, user_id, message, category, created_at) FROM STDIN (FORMAT BINARY)";
        var importer = await connection.BeginBinaryImportAsync(copy, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            var index = 0;
            foreach (var row in statusUpdates)
            {
                ValidateImportRow(row, index++);
                authors?.Add(row.UserId);
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
            && Guard.IsValidText(row.Category, SchemaLimits.Category)
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
        Guard.Text(row.Category, SchemaLimits.Category, $"{name}.{nameof(StatusUpdate.Category)}");
        if (row.CreatedAt.Kind != DateTimeKind.Utc)
        {
            throw new ArgumentException($"{name}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {row.CreatedAt.Kind}.", $"{name}.{nameof(StatusUpdate.CreatedAt)}");
        }
    }

    private async Task<Guid> FirstMissingAuthorAsync(HashSet<Guid> authors, CancellationToken cancellationToken)
    {
        const string sql = "SELECT a.id FROM unnest($1) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.id) LIMIT 1";
        NpgsqlParameter[] parameters = [Prepared.Value(authors.ToArray())];
        return await session.QuerySingleAsync(Access.ReadPrimary, sql, parameters, static reader => reader.GetGuid(0), cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.delete_status_update", Access.Write, session);
        try
        {
            const string sql = "DELETE FROM status_updates WHERE id = $1";
            NpgsqlParameter[] parameters = [Prepared.Value(id)];
            var deleted = await session.ExecuteAsync(sql, parameters, cancellationToken).ConfigureAwait(false) == 1;
            Telemetry.Completed(span, written: deleted);
            return deleted;
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session))
        {
            throw;
        }
    }

    /// <summary>
    /// A newest-first page of one user's or one category's updates: <paramref name="sql"/> takes the filter as
    /// $1, the cursor as ($2, $3) and limit + 1 as $4; the extra row only says whether a next page exists.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Page<StatusUpdate>> PageAsync(string sql, NpgsqlParameter filter, int limit, PageCursor? after, CancellationToken cancellationToken)
    {
        var cursor = after ?? Paging.End;
        NpgsqlParameter[] parameters = [filter, Paging.CursorTimestamp(cursor, nameof(after)), Prepared.Value(cursor.Id), Prepared.Value(limit + 1)];
        var rows = await session.QueryListAsync(sql, parameters, limit + 1, static reader => Prepared.ReadStatusUpdate(reader, 0), cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    /// <summary>One status update with its author, by a single-row statement.</summary>
    private ValueTask<StatusUpdateWithAuthor?> QueryWithAuthorSingleAsync(string sql, NpgsqlParameter[] parameters, Access access, CancellationToken cancellationToken) =>
        session.QuerySingleAsync(access, sql, parameters, Prepared.ReadStatusUpdateWithAuthor, cancellationToken);
}
