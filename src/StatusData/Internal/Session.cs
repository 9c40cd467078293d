using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;

namespace StatusData.Internal;

/// <summary>Whether an operation only reads (and may be retried) or writes (and never is), and where it may run.</summary>
internal enum Access
{
    /// <summary>A read that tolerates replica lag: a standby when <see cref="StatusDataOptions.ReadsFromStandbys"/> routes.</summary>
    Read,

    /// <summary>A write: always the primary.</summary>
    Write,

    /// <summary>A read that must see the primary's latest state (e.g. explaining a write that just failed): the primary.</summary>
    ReadPrimary,
}

/// <summary>What a transient error means for the data.</summary>
internal enum Outcome
{
    /// <summary>Nothing was written: a read, or a write the server refused or that never reached it.</summary>
    NothingWritten,

    /// <summary>A write was sent and the connection broke before its answer: it may have been committed.</summary>
    Unknown,

    /// <summary>The error happened in a caller's transaction, which the server rolled back or aborted.</summary>
    TransactionLost,

    /// <summary>The connection broke during the caller's COMMIT: it may have been committed.</summary>
    CommitUnknown,
}

/// <summary>
/// Where a repository's statements run: a fresh pooled connection per operation, or the connection
/// and transaction of an <see cref="IStatusDataTransaction"/>. Database errors that mean something to
/// the caller become StatusData exceptions here, in one place.
/// </summary>
internal sealed class Session
{
    private readonly NpgsqlDataSource? _dataSource;
    private readonly NpgsqlDataSource? _readDataSource;
    private readonly NpgsqlConnection? _connection;

    /// <param name="dataSource">Writes and reads that must see the primary.</param>
    /// <param name="readDataSource">Reads that tolerate replica lag (the same data source unless reads are routed to standbys).</param>
    /// <param name="options">Settings.</param>
    /// <param name="timeProvider">The clock.</param>
    public Session(NpgsqlDataSource dataSource, NpgsqlDataSource readDataSource, StatusDataOptions options, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
        _readDataSource = readDataSource;
        Options = options;
        Time = timeProvider;
    }

    public Session(NpgsqlConnection connection, NpgsqlTransaction transaction, StatusDataOptions options, TimeProvider timeProvider)
    {
        _connection = connection;
        Transaction = transaction;
        Options = options;
        Time = timeProvider;
    }

    public StatusDataOptions Options { get; }

    public TimeProvider Time { get; }

    /// <summary>The caller's transaction, or <see langword="null"/> when each operation runs on its own.</summary>
    public NpgsqlTransaction? Transaction { get; }

    /// <summary>Now, in UTC, truncated to PostgreSQL's microsecond precision so the returned record equals the stored row.</summary>
    public DateTime UtcNow()
    {
        var now = Time.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc);
    }

    /// <summary>Today in UTC, from the TimeProvider.</summary>
    public DateOnly UtcToday() => DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);

    /// <summary>A query's first row read with <paramref name="read"/>, or <see langword="default"/> without rows.</summary>
    public ValueTask<T?> QuerySingleAsync<T>(Access access, string sql, NpgsqlParameter[] parameters, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken) =>
        RunAsync<Prepared.SingleRow<T>, T?>(access, new(sql, parameters, read), cancellationToken);

    /// <summary>A lag-tolerant read of at most <paramref name="capacity"/> rows, each read with <paramref name="read"/>.</summary>
    public ValueTask<List<T>> QueryListAsync<T>(string sql, NpgsqlParameter[] parameters, int capacity, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken) =>
        RunAsync<Prepared.Rows<T>, List<T>>(Access.Read, new(sql, parameters, capacity, read), cancellationToken);

    /// <summary>A write without results; returns the number of rows it affected.</summary>
    public ValueTask<int> ExecuteAsync(string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken) =>
        RunAsync<Prepared.NonQuery, int>(Access.Write, new(sql, parameters), cancellationToken);

    /// <summary>Anything else on the connection: a batch, a COPY.</summary>
    public ValueTask<T> RunAsync<T>(Access access, Func<NpgsqlConnection, ValueTask<T>> work, CancellationToken cancellationToken) =>
        RunAsync<Delegated<T>, T>(access, new(work), cancellationToken);

    /// <summary>
    /// Runs <paramref name="statement"/> on a pooled connection (or the caller's transaction), retrying reads
    /// and translating errors. The statement is a struct and these methods return pooled
    /// <see cref="ValueTask{TResult}"/>s (awaited once, at once), so the layers below a public method
    /// allocate no closures, delegates or state machines of their own.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<T> RunAsync<TStatement, T>(Access access, TStatement statement, CancellationToken cancellationToken)
        where TStatement : IStatement<T>
    {
        // Reads outside a caller's transaction may be retried; inside one, the transaction is already lost.
        // Not after a statement timeout: the same query would most likely time out again.
        var attempts = access != Access.Write && _connection is null ? Options.ReadAttempts : 1;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RunOnceAsync<TStatement, T>(access, statement, cancellationToken).ConfigureAwait(false);
            }
            catch (TransientDatabaseException e) when (attempt < attempts && e.InnerException is not PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * (1 << attempt)), Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<T> RunOnceAsync<TStatement, T>(Access access, TStatement statement, CancellationToken cancellationToken)
        where TStatement : IStatement<T>
    {
        var sent = false;
        try
        {
            if (_connection is not null)
            {
                sent = true;
                return await statement.RunAsync(this, _connection, cancellationToken).ConfigureAwait(false);
            }

            // Lag-tolerant reads may go to a standby; writes and primary reads never do (docs/scaling.md).
            var dataSource = access == Access.Read ? _readDataSource! : _dataSource!;
            var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                sent = true;
                return await statement.RunAsync(this, connection, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && DuplicateField(e.ConstraintName) is { } field)
        {
            throw new DuplicateValueException(field, e);
        }
        catch (NpgsqlException e) when (IsTransient(e) && !cancellationToken.IsCancellationRequested)
        {
            if (_connection is not null)
            {
                // Nothing of a caller's transaction is committed before its CommitAsync: the outcome is known.
                throw Transient(e, Outcome.TransactionLost);
            }

            // A PostgresException is the server's own answer: the statement failed and was rolled back.
            // Anything else after the statement was sent (a broken connection) leaves a write's outcome unknown.
            throw Transient(e, access == Access.Write && sent && e is not PostgresException ? Outcome.Unknown : Outcome.NothingWritten);
        }
        catch (InvalidOperationException e) when (_connection is not null && IsBroken(_connection))
        {
            // The caller's transaction lost its connection earlier (e.g. in the caller's own SQL); Npgsql
            // then says "Transaction is already completed". The server rolled the transaction back.
            throw BrokenTransaction(e);
        }
    }

    /// <summary>Commits the caller's transaction, translating a broken connection like every other call.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (IsTransient(e) && !cancellationToken.IsCancellationRequested)
        {
            // COMMIT was sent. The server's own error means it rolled back; a connection that broke
            // before the answer leaves the commit's outcome unknown.
            throw Transient(e, e is PostgresException ? Outcome.TransactionLost : Outcome.CommitUnknown);
        }
        catch (InvalidOperationException e) when (IsBroken(_connection!))
        {
            throw BrokenTransaction(e);
        }
    }

    /// <summary>Rolls the caller's transaction back; when its connection already broke, the server did that already.</summary>
    public async Task RollbackAsync(CancellationToken cancellationToken)
    {
        if (IsBroken(_connection!))
        {
            return;
        }

        await Transaction!.RollbackAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Npgsql's own notion of transient, plus a statement the server cancelled (57014: statement_timeout,
    /// or pg_cancel_backend), which Npgsql does not count but which may well succeed later. A cancellation
    /// by the caller's token never gets here: Npgsql raises <see cref="OperationCanceledException"/> for it.
    /// </summary>
    private static bool IsTransient(NpgsqlException e) =>
        e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled };

    private static bool IsBroken(NpgsqlConnection connection) =>
        connection.FullState.HasFlag(ConnectionState.Broken) || connection.State == ConnectionState.Closed;

    private static TransientDatabaseException BrokenTransaction(Exception e) => new(
        "A transient database error: the connection of this transaction broke earlier (server restart, backend terminated, network). "
        + "The server rolled the whole transaction back: nothing of it was committed. Dispose it and run the transaction again. (" + e.Message + ")",
        outcomeUnknown: false,
        e);

    /// <summary>A transient error, in the caller's terms: what happened, and what it means for the data.</summary>
    internal static TransientDatabaseException Transient(NpgsqlException e, Outcome outcome)
    {
        var cause = e switch
        {
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } p when p.MessageText.Contains("statement timeout", StringComparison.Ordinal)
                => "the statement ran longer than the server's statement_timeout and was cancelled",
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } => "the statement was cancelled on the server (pg_cancel_backend or an administrator)",
            PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } => "the server terminated the connection (restart or pg_terminate_backend)",
            PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected } => "a deadlock with another transaction",
            PostgresException { SqlState: PostgresErrorCodes.SerializationFailure } => "a serialization failure",
            PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } => "a lock wait timed out (lock_timeout)",
            PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } => "the server has no free connection slots (max_connections)",
            PostgresException p => $"SQLSTATE {p.SqlState} {p.MessageText}",
            { InnerException: TimeoutException } when e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) => "the connection pool was exhausted (raise Max Pool Size, or return connections sooner)",
            { InnerException: TimeoutException } => "the database did not answer within the command timeout (the connection string's Command Timeout)",
            _ => "the connection to the database failed or broke",
        };
        var meaning = outcome switch
        {
            Outcome.Unknown => "The write may or may not have been committed: check before retrying.",
            Outcome.CommitUnknown => "The connection broke during COMMIT: the transaction may or may not have been committed; check before retrying.",
            Outcome.TransactionLost => "The transaction was rolled back (or is aborted and can only be rolled back): nothing of it was committed. Dispose it and run the transaction again.",
            _ => "Nothing was written.",
        };
        return new TransientDatabaseException(
            $"A transient database error: {cause}. {meaning} ({e.Message})",
            outcome is Outcome.Unknown or Outcome.CommitUnknown,
            e);
    }

    private static string? DuplicateField(string? constraint) => constraint switch
    {
        "users_username_key" => "username",
        "users_email_key" => "email",
        _ => null,
    };
}

/// <summary>What <see cref="Session"/> runs on a connection; implemented by structs, so running one allocates nothing.</summary>
internal interface IStatement<T>
{
    ValueTask<T> RunAsync(Session session, NpgsqlConnection connection, CancellationToken cancellationToken);
}

/// <summary>Work given as a delegate, for the few operations that are more than one prepared statement.</summary>
internal readonly struct Delegated<T>(Func<NpgsqlConnection, ValueTask<T>> work) : IStatement<T>
{
    public ValueTask<T> RunAsync(Session session, NpgsqlConnection connection, CancellationToken cancellationToken) => work(connection);
}
