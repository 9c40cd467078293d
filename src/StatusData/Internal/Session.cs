using Npgsql;

namespace StatusData.Internal;

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

    public async Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            if (_connection is not null)
            {
                return await work(_connection).ConfigureAwait(false);
            }

            var connection = await _dataSource!.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                return await work(connection).ConfigureAwait(false);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && DuplicateField(e.ConstraintName) is { } field)
        {
            throw new DuplicateValueException(field, e);
        }
    }

    private static string? DuplicateField(string? constraint) => constraint switch
    {
        "users_username_key" => "username",
        "users_email_key" => "email",
        _ => null,
    };
}
