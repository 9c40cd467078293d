using System.Data;
using Dapper;
using Npgsql;

namespace StatusData.Internal;

/// <summary>Whether an operation only reads (and may be retried and sent to a standby) or writes (and never is).</summary>
internal enum Access
{
    /// <summary>A read that tolerates replica lag: a standby when <see cref="StatusDataOptions.ReadsFromStandbys"/> routes.</summary>
    Read,

    /// <summary>A write: always the primary, never retried.</summary>
    Write,
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

/// <summary>One public repository call, as <see cref="Session.RunAsync"/> runs it.</summary>
/// <param name="Operation">The span's name, e.g. <c>statusdata.post</c> (docs/observability.md).</param>
/// <param name="Access">Whether it reads or writes.</param>
internal readonly record struct Call(string Operation, Access Access)
{
    /// <summary>An argument the method refused (<see cref="Guard"/>): thrown inside the span, before anything is sent.</summary>
    public Exception? Refused { get; init; }

    /// <summary>A user the statement must find: a result of <see langword="null"/> or 0 rows means <see cref="UserNotFoundException"/>.</summary>
    public Guid? RequiredUser { get; init; }
}

/// <summary>
/// Where every repository call runs, in one method (<see cref="RunAsync"/>): its span, a pooled connection
/// (or the caller's transaction), the statement through Dapper, read retries, and the translation of database
/// errors into StatusData exceptions, by SQLSTATE and exception type, never by message text (which follows the
/// server's <c>lc_messages</c> and Npgsql's wording).
/// </summary>
internal sealed class Session
{
    private readonly NpgsqlDataSource? _dataSource;
    private readonly NpgsqlDataSource? _readDataSource;
    private readonly NpgsqlConnection? _connection;

    /// <param name="dataSource">Writes and transactions.</param>
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

    private Session(NpgsqlConnection connection, NpgsqlTransaction transaction, StatusDataOptions options, TimeProvider timeProvider)
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

    /// <summary>The connection of the caller's transaction, or <see langword="null"/>.</summary>
    public NpgsqlConnection? Connection => _connection;

    /// <summary>Now, in UTC, truncated to PostgreSQL's microsecond precision so the returned record equals the stored row.</summary>
    public DateTime UtcNow()
    {
        var now = Time.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - (now.Ticks % 10), DateTimeKind.Utc);
    }

    /// <summary>Today in UTC, from the TimeProvider.</summary>
    public DateOnly UtcToday() => DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);

    /// <summary>
    /// Runs one repository call: <paramref name="run"/> gets an open connection and the Dapper command for
    /// <paramref name="sql"/> with <paramref name="parameters"/> (the caller's transaction, the connection string's
    /// Command Timeout, the caller's token), and makes the one Dapper (or Npgsql COPY) call.
    /// </summary>
    /// <returns>What <paramref name="run"/> returned. For a write, a result of <see langword="null"/>, 0 or <see langword="false"/> means it changed nothing.</returns>
    public async Task<T> RunAsync<T>(Call call, string sql, object? parameters, Func<NpgsqlConnection, CommandDefinition, Task<T>> run, CancellationToken cancellationToken)
    {
        using var span = Telemetry.Start(call.Operation, call.Access, Transaction is not null);
        try
        {
            if (call.Refused is not null)
            {
                throw call.Refused;
            }

            // Reads outside a caller's transaction may be retried; inside one, the transaction is already lost.
            var attempts = call.Access == Access.Read && _connection is null ? Options.ReadAttempts : 1;
            for (var attempt = 1; ; attempt++)
            {
                var sent = false;
                try
                {
                    T result;
                    if (_connection is not null)
                    {
                        sent = true;
                        result = await run(_connection, Command(_connection, sql, parameters, cancellationToken)).ConfigureAwait(false);
                    }
                    else
                    {
                        // Lag-tolerant reads may go to a standby; writes never do (docs/scaling.md).
                        var connection = await (call.Access == Access.Read ? _readDataSource! : _dataSource!).OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                        await using (connection.ConfigureAwait(false))
                        {
                            // A write outside a caller's transaction commits with its statement: see SynchronousCommitWatch.
                            using var watch = call.Access == Access.Write ? new SynchronousCommitWatch(connection) : null;
                            sent = true;
                            result = await run(connection, Command(connection, sql, parameters, cancellationToken)).ConfigureAwait(false);
                            if (watch?.Unconfirmed(cancellationToken) is { } unconfirmed)
                            {
                                throw unconfirmed;
                            }
                        }
                    }

                    var changedNothing = EqualityComparer<T>.Default.Equals(result, default);
                    if (call.RequiredUser is { } userId && changedNothing)
                    {
                        throw new UserNotFoundException(userId);
                    }

                    if (call.Access == Access.Write)
                    {
                        Telemetry.Completed(span, written: !changedNothing);
                    }

                    return result;
                }
                catch (Exception e) when (Translate(e, call.Access, sent, cancellationToken) is { } translated)
                {
                    // Not after a statement timeout: the same query would most likely time out again.
                    if (translated is TransientDatabaseException && attempt < attempts && e is not PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(50 * (1 << attempt)), Time, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    throw translated;
                }
            }
        }
        catch (Exception e) when (Telemetry.Failed(span, e, call.Access, Transaction is not null))
        {
            throw;
        }
    }

    /// <summary>
    /// The Dapper command: the Command Timeout comes from the connection (its connection string), never from
    /// Dapper's process-wide <c>SqlMapper.Settings.CommandTimeout</c>, which belongs to the host application.
    /// </summary>
    private CommandDefinition Command(NpgsqlConnection connection, string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, Transaction, connection.CommandTimeout, CommandType.Text, CommandFlags.Buffered, cancellationToken);

    /// <summary>Opens a connection, begins a transaction on it and returns the session of that transaction.</summary>
    public async Task<Session> BeginAsync(CancellationToken cancellationToken)
    {
        using var span = Telemetry.Start("statusdata.begin_transaction", Access.Read, inTransaction: false);
        try
        {
            NpgsqlConnection? connection = null;
            try
            {
                connection = await _dataSource!.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                return new Session(connection, transaction, Options, Time);
            }
            catch (Exception e)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }

                // No connection in time (pool exhausted, server down, no primary during a failover), or BEGIN failed:
                // typed like every other call's. Nothing of the transaction exists yet.
                if (e is NpgsqlException n && (IsTransient(n) || connection is null) && !cancellationToken.IsCancellationRequested)
                {
                    throw Transient(n, Outcome.NothingWritten, sent: connection is not null);
                }

                throw;
            }
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, inTransaction: false))
        {
            throw;
        }
    }

    /// <summary>Commits the caller's transaction, translating a broken connection like every other call.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        using var span = Telemetry.Start("statusdata.commit", Access.Write, inTransaction: true);
        try
        {
            try
            {
                using (var watch = new SynchronousCommitWatch(_connection!))
                {
                    await Transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
                    if (watch.Unconfirmed(cancellationToken) is { } unconfirmed)
                    {
                        throw unconfirmed;
                    }
                }

                Telemetry.Completed(span, written: true);
            }
            catch (NpgsqlException e) when (IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                // COMMIT was sent. The server's own error means it rolled back; a connection that broke
                // before the answer leaves the commit's outcome unknown.
                throw Transient(e, e is PostgresException ? Outcome.TransactionLost : Outcome.CommitUnknown, sent: true);
            }
            catch (InvalidOperationException e) when (IsBroken(_connection!))
            {
                throw BrokenTransaction(e);
            }
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, inTransaction: false)) // a COMMIT's outcome is the committed one
        {
            throw;
        }
    }

    /// <summary>Rolls the caller's transaction back; when its connection already broke, the server did that already.</summary>
    public async Task RollbackAsync(CancellationToken cancellationToken)
    {
        using var span = Telemetry.Start("statusdata.rollback", Access.Read, inTransaction: true);
        try
        {
            if (!IsBroken(_connection!))
            {
                await Transaction!.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.Read, inTransaction: true))
        {
            throw;
        }
    }

    /// <summary>The StatusData exception for a database error of a call, or <see langword="null"/> to let it through as it is.</summary>
    private Exception? Translate(Exception e, Access access, bool sent, CancellationToken cancellationToken) => e switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } p when DuplicateField(p.ConstraintName) is { } field => new DuplicateValueException(field, p),

        // Nothing of a caller's transaction is committed before its CommitAsync: the outcome is known.
        NpgsqlException n when IsTransient(n) && !cancellationToken.IsCancellationRequested && _connection is not null => Transient(n, Outcome.TransactionLost, sent),

        // A PostgresException is the server's own answer: the statement failed and was rolled back.
        // Anything else after the statement was sent (a broken connection) leaves a write's outcome unknown.
        NpgsqlException n when IsTransient(n) && !cancellationToken.IsCancellationRequested =>
            Transient(n, access == Access.Write && sent && n is not PostgresException ? Outcome.Unknown : Outcome.NothingWritten, sent),

        // No connection could be opened, whatever Npgsql calls it: during a failover a multi-host data source answers
        // "No suitable host was found" (no host is the primary yet), which Npgsql does not count as transient. Nothing
        // was sent, so nothing was written, and a later call may well find the new primary.
        NpgsqlException n when !sent && !cancellationToken.IsCancellationRequested => Transient(n, Outcome.NothingWritten, sent),

        // The caller's transaction lost its connection earlier (e.g. in the caller's own SQL); Npgsql then says
        // "Transaction is already completed". The server rolled the transaction back.
        InvalidOperationException when _connection is not null && IsBroken(_connection) => BrokenTransaction(e),
        _ => null,
    };

    /// <summary>
    /// Npgsql's own notion of transient, plus two errors Npgsql does not count but after which a later call may well
    /// succeed: a statement the server cancelled (57014: statement_timeout, or pg_cancel_backend), and a write that
    /// reached a server that is read-only (25006), which is what a primary demoted by a switchover or failover answers
    /// on the connections it still holds. A cancellation
    /// by the caller's token never gets here: Npgsql raises <see cref="OperationCanceledException"/> for it.
    /// </summary>
    private static bool IsTransient(NpgsqlException e) =>
        e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.ReadOnlySqlTransaction };

    private static bool IsBroken(NpgsqlConnection connection) =>
        connection.FullState.HasFlag(ConnectionState.Broken) || connection.State == ConnectionState.Closed;

    private static TransientDatabaseException BrokenTransaction(Exception e) => new(
        "A transient database error: the connection of this transaction broke earlier (server restart, backend terminated, network). "
        + "The server rolled the whole transaction back: nothing of it was committed. Dispose it and run the transaction again. (" + e.Message + ")",
        outcomeUnknown: false,
        e);

    /// <summary>
    /// A transient error, in the caller's terms: what happened, and what it means for the data. The cause is
    /// told by SQLSTATE, and for a timeout by where it happened (<paramref name="sent"/>: before, getting a
    /// connection; after, waiting for the answer).
    /// </summary>
    private static TransientDatabaseException Transient(NpgsqlException e, Outcome outcome, bool sent)
    {
        var cause = e switch
        {
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } => "the server cancelled the statement: it ran longer than the server's statement_timeout, or an administrator cancelled it (pg_cancel_backend)",
            PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } => "the server terminated the connection (restart or pg_terminate_backend)",
            PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected } => "a deadlock with another transaction",
            PostgresException { SqlState: PostgresErrorCodes.SerializationFailure } => "a serialization failure",
            PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } => "a lock wait timed out (lock_timeout)",
            PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } => "the server has no free connection slots (max_connections)",
            PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } => "the server is read-only: it is no longer the primary (a switchover or failover demoted it), or it is a standby",
            PostgresException p => $"SQLSTATE {p.SqlState}",
            { InnerException: TimeoutException } when !sent => "no connection within the connection string's Timeout: the connection pool was exhausted (raise Max Pool Size, or return connections sooner) or the server did not accept a connection in time",
            { InnerException: TimeoutException } => "the database did not answer within the command timeout (the connection string's Command Timeout)",
            _ when !sent => "no connection could be opened: the server is down or restarting, or none of the connection string's hosts is a server of the kind needed (Target Session Attributes), as while a failover or switchover promotes a new primary",
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
