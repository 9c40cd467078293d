using System.Diagnostics;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Bounds how long a concurrent index build or drop waits for locks, in total, to <see cref="StatusDataMigratorOptions.LockTimeout"/>.
/// <para>
/// Inside a transaction StatusData bounds lock waits with <c>SET LOCAL lock_timeout</c>. <c>CREATE INDEX CONCURRENTLY</c>
/// cannot run in a transaction, and a session-level <c>SET lock_timeout</c> would stay on whatever server connection
/// PgBouncer (transaction mode) ran it on, for an app to inherit; Npgsql's <c>Options</c> startup parameter is refused
/// by PgBouncer. Neither Npgsql nor FluentMigrator offers another way to bound one statement's lock waits, so this watches
/// the build from a connection of its own: every <see cref="Sample"/> it asks <c>pg_stat_activity</c> whether the
/// backend running the statement waits for a lock (its table's SHARE UPDATE EXCLUSIVE lock, or the transactions it must
/// outlast), adds up those waits, and cancels the statement (<c>pg_cancel_backend</c>) once they pass the limit. The
/// build's own work (scanning, sorting) never counts. A queued concurrent build blocks neither reads nor writes, so
/// only the deploy waits meanwhile: the total, not a short per-attempt timeout, is the right bound.
/// </para>
/// </summary>
internal sealed class LockWaitLimit : IDisposable
{
    private static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(200);

    // The backend running exactly this statement in this database and waiting for a heavyweight lock. FluentMigrator
    // sends the generated SQL, which Npgsql passes on without its final semicolon, so the text identifies it (runs are
    // serialized by the migration lock).
    private const string WaitingSql = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
          AND wait_event_type = 'Lock' AND rtrim(query, E'; \n\r\t') = rtrim($1, E'; \n\r\t')
        LIMIT 1
        """;

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private int _fired;

    private LockWaitLimit(string connectionString, string sql, TimeSpan limit) =>
        _watch = Task.Run(() => WatchAsync(connectionString, sql, limit, _stop.Token));

    /// <summary>Whether the limit was reached and the statement cancelled.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    /// <summary>The time the statement spent waiting for locks, as sampled, when the watch ended.</summary>
    public TimeSpan Waited { get; private set; }

    /// <summary>Starts watching <paramref name="sql"/>, which the caller is about to run.</summary>
    public static LockWaitLimit Start(string connectionString, string sql, TimeSpan limit) => new(connectionString, sql, limit);

    /// <summary>Stops watching; call once the statement has returned or failed.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _watch.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // Cancelled, or the watch's own connection failed: the statement's own result is what the run reports.
        }

        _stop.Dispose();
    }

    private async Task WatchAsync(string connectionString, string sql, TimeSpan limit, CancellationToken stop)
    {
        // Unpooled and autocommit: each sample is a transaction of a few milliseconds, which the build waits out at once.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "statusdata-migrate lock-wait limit" };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await using var disposeConnection = connection.ConfigureAwait(false);
        await connection.OpenAsync(stop).ConfigureAwait(false);
        using var waiting = new NpgsqlCommand(WaitingSql, connection);
        waiting.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sql });
        var clock = Stopwatch.StartNew();
        var last = clock.Elapsed;
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(Sample, stop).ConfigureAwait(false);
            var pid = await waiting.ExecuteScalarAsync(stop).ConfigureAwait(false);
            var now = clock.Elapsed;
            if (pid is int backend)
            {
                Waited += now - last;
                if (Waited >= limit)
                {
                    Volatile.Write(ref _fired, 1);
                    using var cancel = new NpgsqlCommand("SELECT pg_cancel_backend($1)", connection);
                    cancel.Parameters.Add(new NpgsqlParameter<int> { TypedValue = backend });
                    await cancel.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
                    return;
                }
            }

            last = now;
        }
    }
}

/// <summary>A concurrent index statement that <see cref="LockWaitLimit"/> cancelled: it waited for locks longer than the lock timeout.</summary>
internal sealed class LockWaitLimitException(string sql, TimeSpan limit, Exception cancelled)
    : Exception($"waited {limit.TotalSeconds:0.###}s in total for locks and was cancelled", cancelled)
{
    public string Sql => sql;

    public TimeSpan Limit => limit;
}
