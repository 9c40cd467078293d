using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// The migration lock, held for a whole run: a dedicated connection with an open READ COMMITTED
/// transaction that took <c>pg_advisory_xact_lock</c>. Any number of runners (pods deploying at once)
/// then apply each migration exactly once. An open transaction pins its server connection in PgBouncer's
/// transaction mode, where a session-level lock would not hold; it holds no table locks and no snapshot
/// between statements, so it never delays the apps or a concurrent index build.
/// </summary>
/// <remarks>
/// The state is read on other connections (so the lock's transaction keeps no table locks), and always after the
/// lock, so a runner that waited sees what the previous holder committed.
/// </remarks>
internal sealed class MigrationLock : IAsyncDisposable
{
    /// <summary>The advisory-lock key all StatusData runners share: the ASCII bytes of "STATUSDA". Never change it: runners of different releases exclude each other only through it.</summary>
    public const long Key = 0x5354_4154_5553_4441;

    /// <summary>The same lock as literal statements, for printed scripts (ScriptTests and LockTests pin them to <see cref="Key"/>).</summary>
    public const string ScriptStatement = "SELECT pg_advisory_xact_lock(6004496033656292417);";

    /// <summary>The session-level form, for scripts around a migration that runs outside a transaction.</summary>
    public const string ScriptSessionStatement = "SELECT pg_advisory_lock(6004496033656292417);";

    /// <summary>Releases <see cref="ScriptSessionStatement"/>.</summary>
    public const string ScriptSessionUnlockStatement = "SELECT pg_advisory_unlock(6004496033656292417);";

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeSpan _timeout;
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;

    private MigrationLock(NpgsqlDataSource dataSource, TimeSpan timeout)
    {
        _dataSource = dataSource;
        _timeout = timeout;
    }

    /// <summary>The lock's connection: statements on it run in the lock's transaction and take effect at <see cref="CommitAsync"/>.</summary>
    public NpgsqlConnection Connection => _connection!;

    public NpgsqlTransaction Transaction => _transaction!;

    /// <summary>Waits at most <paramref name="timeout"/> for the lock; then <see cref="MigrationFailure.LockTimeout"/> naming its holder.</summary>
    /// <param name="dataSource">The runner's data source; the lock owns neither it nor its lifetime.</param>
    /// <param name="timeout">The run's lock timeout.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    public static async Task<MigrationLock> TakeAsync(NpgsqlDataSource dataSource, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var held = new MigrationLock(dataSource, timeout);
        try
        {
            await held.WaitAsync(cancellationToken).ConfigureAwait(false);
            return held;
        }
        catch
        {
            await held.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Commits what ran in the lock's transaction, which also releases the lock.</summary>
    public Task CommitAsync(CancellationToken cancellationToken) => _transaction!.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            await _transaction.DisposeAsync().ConfigureAwait(false);
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Polls with <c>pg_try_advisory_xact_lock</c>, each try in a transaction of its own, instead of waiting in
    /// <c>pg_advisory_xact_lock</c>: a statement waiting for a lock holds a snapshot, and a concurrent index build
    /// waits for every transaction with an older snapshot to end. A runner waiting for the lock would then stall the
    /// holder's CREATE INDEX CONCURRENTLY, which waits for the waiter, which waits for the holder: no cycle PostgreSQL
    /// can see, so both would sit until the waiter's lock timeout. Between tries a waiter holds no transaction at all.
    /// </summary>
    private async Task WaitAsync(CancellationToken cancellationToken)
    {
        _connection = await ServerConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(25);
        while (true)
        {
            // READ COMMITTED explicitly: a database defaulting to REPEATABLE READ or SERIALIZABLE would otherwise give
            // the baseline, which reads in this transaction, a snapshot from before the previous holder committed.
            _transaction = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

            // The SET after the try replaces the try's portal, which would otherwise keep its snapshot (and this
            // backend's xmin) for the whole run, and a concurrent build would wait for it. SET takes no snapshot. It
            // also keeps a server's idle_in_transaction_session_timeout from ending the lock mid-run: this
            // transaction is idle for as long as the run lasts.
            using var command = new NpgsqlBatch(_connection, _transaction)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT pg_try_advisory_xact_lock($1), set_config('lock_timeout', $2, true)")
                    {
                        Parameters =
                        {
                            new NpgsqlParameter<long> { TypedValue = Key },
                            new NpgsqlParameter<string> { TypedValue = LockTimeout.Setting(_timeout) },
                        },
                    },
                    new NpgsqlBatchCommand("SET LOCAL idle_in_transaction_session_timeout = 0"),
                },
            };
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
            {
                return;
            }

            await _transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            await _transaction.DisposeAsync().ConfigureAwait(false);
            _transaction = null;
            var left = _timeout - waited.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                var holder = await DescribeHolderAsync(cancellationToken).ConfigureAwait(false);
                throw new MigrationException(
                    MigrationFailure.LockTimeout,
                    $"Timed out after {_timeout.TotalSeconds:0.#}s waiting for the migration lock, held by {holder}. Another runner is probably migrating this database: wait for it to finish and run again, or raise the lock timeout. Nothing was changed.");
            }

            await Task.Delay(pause < left ? pause : left, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 500));
        }
    }

    private async Task<string> DescribeHolderAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), coalesce(host(a.client_addr), 'local'), a.xact_start
            FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid AND l.objsubid = 1
            LIMIT 1
            """;
        try
        {
            using var command = _dataSource.CreateCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Key });
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var since = reader.IsDBNull(3) ? "?" : reader.GetDateTime(3).ToString("u", CultureInfo.InvariantCulture);
                return $"backend pid {reader.GetInt32(0)} (application '{reader.GetString(1)}', client {reader.GetString(2)}, transaction started {since})";
            }

            return "a session that released it just now";
        }
        catch (NpgsqlException)
        {
            return "another session (its details could not be read)";
        }
    }
}
