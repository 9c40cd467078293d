using Npgsql;

namespace StatusData.Internal;

/// <summary>Whether an operation only reads (and may be retried) or writes (and never is).</summary>
internal enum Access
{
    Read,
    Write,
}

/// <summary>
/// Where a repository's statements run: a fresh pooled connection per operation, or the connection
/// and transaction of an <see cref="IStatusDataTransaction"/>. Database errors that mean something to
/// the caller become StatusData exceptions here, in one place.
/// </summary>
internal sealed class Session
{
    private readonly NpgsqlDataSource? _dataSource;
    private readonly NpgsqlConnection? _connection;

    public Session(NpgsqlDataSource dataSource, StatusDataOptions options, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
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

    public async Task<T> RunAsync<T>(Access access, Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        // Reads outside a caller's transaction may be retried; inside one, the transaction is already lost.
        var attempts = access == Access.Read && _connection is null ? Options.ReadAttempts : 1;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RunOnceAsync(access, work, cancellationToken).ConfigureAwait(false);
            }
            catch (TransientDatabaseException) when (attempt < attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * (1 << attempt)), Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<T> RunOnceAsync<T>(Access access, Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        var sent = false;
        try
        {
            if (_connection is not null)
            {
                sent = true;
                return await work(_connection).ConfigureAwait(false);
            }

            var connection = await _dataSource!.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                sent = true;
                return await work(connection).ConfigureAwait(false);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && DuplicateField(e.ConstraintName) is { } field)
        {
            throw new DuplicateValueException(field, e);
        }
        catch (NpgsqlException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
        {
            // A PostgresException is the server's own answer: the statement failed and was rolled back.
            // Anything else after the statement was sent (a broken connection) leaves a write's outcome unknown.
            var outcomeUnknown = access == Access.Write && sent && e is not PostgresException;
            throw new TransientDatabaseException(Describe(e, access, outcomeUnknown), outcomeUnknown, e);
        }
    }

    private static string Describe(NpgsqlException e, Access access, bool outcomeUnknown)
    {
        var cause = e switch
        {
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } => "the statement was cancelled by the server (statement_timeout)",
            PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } => "the server terminated the connection (restart or pg_terminate_backend)",
            PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected } => "a deadlock with another transaction",
            PostgresException { SqlState: PostgresErrorCodes.SerializationFailure } => "a serialization failure",
            PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } => "a lock wait timed out (lock_timeout)",
            PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } => "the server has no free connection slots (max_connections)",
            PostgresException p => $"SQLSTATE {p.SqlState} {p.MessageText}",
            { InnerException: TimeoutException } when e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) => "the connection pool was exhausted (raise Max Pool Size, or return connections sooner)",
            { InnerException: TimeoutException } => "the database did not answer in time",
            _ => "the connection to the database failed or broke",
        };
        var outcome = access == Access.Read
            ? "Nothing was written."
            : outcomeUnknown
                ? "The write may or may not have been committed: check before retrying."
                : "Nothing was written.";
        return $"A transient database error: {cause}. {outcome} ({e.Message})";
    }

    private static string? DuplicateField(string? constraint) => constraint switch
    {
        "users_username_key" => "username",
        "users_email_key" => "email",
        _ => null,
    };
}
