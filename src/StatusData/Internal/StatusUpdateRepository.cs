using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace StatusData.Internal;

/// <summary>
/// <c>status_updates</c>, in hand-written SQL run by Dapper through <see cref="Session.RunAsync"/>, which maps each
/// row onto <see cref="StatusUpdate"/> (and an update with its author by multi-mapping, split at the author's
/// <c>id</c>). Lists seek on <c>(created_at, id)</c> through the indexes of migration 202611220900, so a deep page
/// costs what the first one costs. <see cref="ImportAsync"/> is the one call Dapper cannot make: binary COPY.
/// </summary>
internal sealed class StatusUpdateRepository(Session session) : IStatusUpdateRepository
{
    private const string ImportSavepoint = "statusdata_import";

    private const string CopySql = "COPY status_updates (id, user_id, message, category, created_at) FROM STDIN (FORMAT BINARY)";

    // One statement: the UPDATE locks the author's row, so concurrent posts by one user serialize
    // and each computes its streak from the row as the previous post left it (READ COMMITTED
    // re-evaluates the SET expressions on the latest row version). The INSERT takes the author
    // from the UPDATE, so a missing user inserts nothing, and the foreign key cannot fail: the
    // author's row stays locked by this UPDATE until the statement commits. Both RETURNING lists are
    // StatusDataColumns', so s.*, u.* is an update's five columns, then its author's eleven.
    internal const string PostSql = $"""
        WITH author AS (
            UPDATE users
            SET xp = xp + @xpAward,
                current_streak = CASE
                    WHEN last_post_date = @day THEN current_streak
                    WHEN last_post_date = @day - 1 THEN current_streak + 1
                    ELSE 1
                END,
                longest_streak = GREATEST(longest_streak, CASE
                    WHEN last_post_date = @day THEN current_streak
                    WHEN last_post_date = @day - 1 THEN current_streak + 1
                    ELSE 1
                END),
                last_post_date = @day
            WHERE id = @userId
            RETURNING {StatusDataColumns.User}
        ),
        inserted AS (
            INSERT INTO status_updates (id, user_id, message, category, created_at)
            SELECT @id, author.id, @message, @category, @createdAt FROM author
            RETURNING {StatusDataColumns.StatusUpdate}
        )
        SELECT s.*, u.*
        FROM inserted s CROSS JOIN author u
        """;

    public Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward, DateOnly? day = null, CancellationToken cancellationToken = default)
    {
        var refused = Guard.Text(message, session.Options.MaxMessageLength, nameof(message))
            ?? Guard.Text(category, SchemaLimits.Category, nameof(category))
            ?? Guard.NotNegative(xpAward, nameof(xpAward));
        var parameters = new
        {
            id = Guid.CreateVersion7(session.Time.GetUtcNow()),
            userId,
            message,
            category,
            xpAward,
            day = day ?? session.UtcToday(),
            createdAt = Paging.Timestamptz(session.UtcNow()),
        };
        return session.RunAsync(new("statusdata.post", Access.Write) { Refused = refused, RequiredUser = userId }, PostSql, parameters, QueryWithAuthorAsync, cancellationToken)!;
    }

    public Task<StatusUpdateWithAuthor?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        // As in FeedSql: the two subqueries flatten into a plain join.
        const string sql = $"""
            SELECT s.*, u.*
            FROM (SELECT {StatusDataColumns.StatusUpdate} FROM status_updates) s
            JOIN (SELECT {StatusDataColumns.User} FROM users) u ON u.id = s.userid
            WHERE s.id = @id
            """;
        return session.RunAsync(new("statusdata.get_status_update", Access.Read), sql, new { id }, QueryWithAuthorAsync, cancellationToken);
    }

    public Task<Page<StatusUpdate>> ListByUserAsync(Guid userId, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        const string sql = $"""
            SELECT {StatusDataColumns.StatusUpdate}
            FROM status_updates
            WHERE user_id = @Filter AND (created_at, id) < (@CreatedAt, @Id)
            ORDER BY created_at DESC, id DESC
            LIMIT @Limit
            """;
        return PageAsync(new("statusdata.list_status_updates_by_user", Access.Read), sql, userId, limit, after, cancellationToken);
    }

    public Task<Page<StatusUpdate>> ListByCategoryAsync(string category, int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        const string sql = $"""
            SELECT {StatusDataColumns.StatusUpdate}
            FROM status_updates
            WHERE category = @Filter AND (created_at, id) < (@CreatedAt, @Id)
            ORDER BY created_at DESC, id DESC
            LIMIT @Limit
            """;
        return PageAsync(new("statusdata.list_status_updates_by_category", Access.Read) { Refused = Guard.Lookup(category, nameof(category)) }, sql, category, limit, after, cancellationToken);
    }

    // Joined loading: each row is a status update, then its author. Each side selects its StatusDataColumns from its
    // own table; PostgreSQL flattens the two subqueries, so the plan is the plain join's (a backward seek on
    // ix_status_updates_created_at_id, each author by primary key, stopping at the limit).
    internal const string FeedSql = $"""
        SELECT s.*, u.*
        FROM (SELECT {StatusDataColumns.StatusUpdate} FROM status_updates) s
        JOIN (SELECT {StatusDataColumns.User} FROM users) u ON u.id = s.userid
        WHERE (s.createdat, s.id) < (@CreatedAt, @Id)
        ORDER BY s.createdat DESC, s.id DESC
        LIMIT @Limit
        """;

    public async Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default)
    {
        var (createdAt, id) = Paging.Before(after);
        var rows = await session.RunAsync(
            new("statusdata.get_feed", Access.Read) { Refused = Guard.PageSize(limit, nameof(limit)) ?? Paging.Check(after, nameof(after)) },
            FeedSql,
            new { CreatedAt = createdAt, Id = id, Limit = limit + 1 },
            static (c, command) => c.QueryAsync(command, static (StatusUpdate update, User author) => new StatusUpdateWithAuthor(update, author), splitOn: "id"),
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, static row => PageCursor.After(row.StatusUpdate));
    }

    public async Task<long> ImportAsync(IEnumerable<StatusUpdate> statusUpdates, CancellationToken cancellationToken = default)
    {
        // The authors are needed only to name a missing one. A collection can be read again for that; rows
        // from a single-pass enumerable are remembered as they are copied.
        var authors = statusUpdates is IReadOnlyCollection<StatusUpdate> ? null : new HashSet<Guid>();
        return await session.RunAsync(
            new("statusdata.import_status_updates", Access.Write) { Refused = Guard.NotNull(statusUpdates, nameof(statusUpdates)) },
            CopySql,
            parameters: null,
            async (connection, command) =>
            {
                // Inside a caller's transaction a failed COPY (a bad row, a missing author) would abort the whole
                // transaction; a savepoint confines the failure to this call.
                var transaction = (NpgsqlTransaction?)command.Transaction;
                if (transaction is not null)
                {
                    await transaction.SaveAsync(ImportSavepoint, command.CancellationToken).ConfigureAwait(false);
                }

                try
                {
                    var copied = await CopyAsync(connection, command, statusUpdates, authors).ConfigureAwait(false);
                    if (transaction is not null)
                    {
                        await transaction.ReleaseAsync(ImportSavepoint, command.CancellationToken).ConfigureAwait(false);
                    }

                    return copied;
                }
                catch (Exception e)
                {
                    if (transaction is not null && connection.State == System.Data.ConnectionState.Open)
                    {
                        await RollbackToSavepointAsync(transaction).ConfigureAwait(false);
                    }

                    if (e is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } violation)
                    {
                        // The COPY was rolled back (to the savepoint, or with its implicit transaction): the connection can name the author.
                        const string sql = "SELECT a.id FROM unnest(@authors) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.id) LIMIT 1";
                        var missing = await connection.QueryFirstOrDefaultAsync<Guid>(new CommandDefinition(
                            sql,
                            new { authors = (authors ?? statusUpdates.Select(row => row.UserId)).Distinct().ToArray() },
                            transaction,
                            connection.CommandTimeout,
                            cancellationToken: command.CancellationToken)).ConfigureAwait(false);
                        throw new UserNotFoundException(missing, violation);
                    }

                    throw;
                }
            },
            cancellationToken).ConfigureAwait(false);
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
    private async Task<long> CopyAsync(NpgsqlConnection connection, CommandDefinition command, IEnumerable<StatusUpdate> statusUpdates, HashSet<Guid>? authors)
    {
        var cancellationToken = command.CancellationToken;
        var importer = await connection.BeginBinaryImportAsync(CopySql, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            var index = 0;
            foreach (var row in statusUpdates)
            {
                if (InvalidImportRow(row, index++) is { } invalid)
                {
                    throw invalid;
                }

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

    /// <summary>The error for a bad row, naming it by index; the common case allocates nothing (names are built only for a bad row).</summary>
    private ArgumentException? InvalidImportRow(StatusUpdate row, int index)
    {
        if (row is not null
            && Guard.IsValidText(row.Message, session.Options.MaxMessageLength)
            && Guard.IsValidText(row.Category, SchemaLimits.Category)
            && row.CreatedAt.Kind == DateTimeKind.Utc)
        {
            return null;
        }

        var name = $"statusUpdates[{index}]";
        return row is null ? new ArgumentException($"{name} is null.", name)
            : Guard.Text(row.Message, session.Options.MaxMessageLength, $"{name}.{nameof(StatusUpdate.Message)}")
            ?? Guard.Text(row.Category, SchemaLimits.Category, $"{name}.{nameof(StatusUpdate.Category)}")
            ?? new ArgumentException($"{name}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {row.CreatedAt.Kind}.", $"{name}.{nameof(StatusUpdate.CreatedAt)}");
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default) =>
        await session.RunAsync(
            new("statusdata.delete_status_update", Access.Write),
            "DELETE FROM status_updates WHERE id = @id",
            new { id },
            static (c, command) => c.ExecuteAsync(command),
            cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>A newest-first page of one user's or one category's updates: <paramref name="sql"/> filters on @Filter and seeks after (@CreatedAt, @Id).</summary>
    private async Task<Page<StatusUpdate>> PageAsync<TFilter>(Call call, string sql, TFilter filter, int limit, PageCursor? after, CancellationToken cancellationToken)
    {
        var (createdAt, id) = Paging.Before(after);
        var rows = await session.RunAsync(
            call with { Refused = call.Refused ?? Guard.PageSize(limit, nameof(limit)) ?? Paging.Check(after, nameof(after)) },
            sql,
            new { Filter = filter, CreatedAt = createdAt, Id = id, Limit = limit + 1 },
            static (c, command) => c.QueryAsync<StatusUpdate>(command),
            cancellationToken).ConfigureAwait(false);
        return Paging.ToPage(rows, limit, PageCursor.After);
    }

    /// <summary>One status update with its author, mapped by Dapper's multi-mapping: the update's columns, then the author's from their <c>id</c> on.</summary>
    private static async Task<StatusUpdateWithAuthor?> QueryWithAuthorAsync(NpgsqlConnection connection, CommandDefinition command) =>
        (await connection.QueryAsync(command, static (StatusUpdate update, User author) => new StatusUpdateWithAuthor(update, author), splitOn: "id").ConfigureAwait(false))
            .FirstOrDefault();
}
