using System.Diagnostics;
using FluentMigrator;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Drives FluentMigrator's runner, one migration at a time, after the migration lock is taken: on a worker thread
/// (FluentMigrator is synchronous), its log lines forwarded at Debug level, each failure translated into a
/// <see cref="MigrationException"/> an operator can act on.
/// </summary>
/// <remarks>
/// <para><b>Lock waits never queue the apps for long.</b> Every migration transaction starts with
/// <c>SET LOCAL lock_timeout</c> to <see cref="StatusDataMigratorOptions.LockAttemptTimeout"/> (see
/// <see cref="FluentMigratorServices"/>). A DDL statement waiting for a strong lock (ALTER TABLE, DROP, adding a
/// constraint) makes every later query on that table queue behind its request; with a short timeout the attempt
/// gives up, its transaction rolls back, and the apps' queries go on. The step is then retried after a growing,
/// jittered pause, the same way after a deadlock (40P01), until <see cref="StatusDataMigratorOptions.LockTimeout"/>
/// has passed since the step's first attempt. A long transaction of the app delays the migration, not the app.</para>
/// <para>A migration outside a transaction (<see cref="TransactionBehavior.None"/>) is retried only when it is
/// nothing but concurrent index builds and drops, which the processor makes safe to run again; anything else
/// could have half-run.</para>
/// </remarks>
internal sealed class MigrationSteps(string connectionString, MigrationCatalog catalog, StatusDataMigratorOptions options, ILogger logger)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(5);

    public async Task<List<MigrationStep>> RunAsync(MigrationDirection direction, IReadOnlyList<(KnownMigration Migration, Action<IMigrationRunner> Step)> plan, CancellationToken cancellationToken)
    {
        var steps = new List<MigrationStep>();
        if (plan.Count == 0)
        {
            return steps;
        }

        // FluentMigrator opens one connection per scope, which the scope closes: no pool to keep.
        var connection = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };

        var attemptTimeout = options.LockAttemptTimeout < options.LockTimeout ? options.LockAttemptTimeout : options.LockTimeout;
        using var services = FluentMigratorServices.Build(
            catalog.Migrations.Select(m => m.Migration).ToList(), connection.ConnectionString, catalog.ByVersion, LockTimeout.Setting(attemptTimeout), options.LockTimeout, new ForwardingLoggerProvider(logger), runLogger: logger);
        foreach (var (migration, step) in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (direction == MigrationDirection.Up ? Log.Applying : (Action<ILogger, long, string>)Log.Reverting)(logger, migration.Version, migration.Description);
            var stopwatch = Stopwatch.StartNew();
            await RunWithRetriesAsync(services, migration, direction, step, cancellationToken).ConfigureAwait(false);
            steps.Add(new MigrationStep(migration.Version, migration.Description, direction, stopwatch.Elapsed));
            (direction == MigrationDirection.Up ? Log.Applied : (Action<ILogger, long, long>)Log.Reverted)(logger, migration.Version, stopwatch.ElapsedMilliseconds);
        }

        return steps;
    }

    private async Task RunWithRetriesAsync(ServiceProvider services, KnownMigration migration, MigrationDirection direction, Action<IMigrationRunner> step, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // A fresh runner per attempt: it reads version_info again and opens its own connection.
                using var scope = services.CreateScope();
                var runner = scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
                await Task.Run(() => step(runner), CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is not MigrationException)
            {
                var postgres = NpgsqlCause(e) as PostgresException;
                var pause = Pause(attempt);
                var retryable = postgres?.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected
                    && (migration.InTransaction || ConcurrentIndexes.OnlyConcurrentIndexOperations(migration.Migration, direction));
                if (!retryable || started.Elapsed + pause > options.LockTimeout || cancellationToken.IsCancellationRequested)
                {
                    throw Failure(migration, direction, e, retryable ? attempt : 0, started.Elapsed);
                }

                Log.Retrying(logger, migration.Version, attempt, postgres!.SqlState, (long)pause.TotalMilliseconds, (long)(options.LockTimeout - started.Elapsed).TotalMilliseconds);
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>200 ms, doubling up to 5 s, each drawn at random from its upper half so that runners and apps do not retry in step.</summary>
    private static TimeSpan Pause(int attempt)
    {
        var ceiling = Math.Min(LongestPause.TotalMilliseconds, FirstPause.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>The first Npgsql exception inside what FluentMigrator threw (it wraps them), if any.</summary>
    private static NpgsqlException? NpgsqlCause(Exception e)
    {
        var inner = e;
        while (inner is not null and not NpgsqlException)
        {
            inner = inner.InnerException;
        }

        return inner as NpgsqlException;
    }

    private MigrationException Failure(KnownMigration migration, MigrationDirection direction, Exception e, int attempts, TimeSpan elapsed)
    {
        var npgsql = NpgsqlCause(e);
        var postgres = npgsql as PostgresException;
        var cause = postgres is null ? (npgsql ?? e).Message.TrimEnd('.') : $"{postgres.SqlState} {postgres.MessageText}";
        var statement = postgres?.BatchCommand?.CommandText is { } sql ? $" Statement:{Environment.NewLine}{sql}" : string.Empty;
        var undone = migration.InTransaction
            ? $"Its transaction was rolled back: the schema and {VersionInfoTable.Name} are as they were before it."
            : $"It runs outside a transaction, so statements before the failing one stay done and {VersionInfoTable.Name} does not record it; "
              + "an index build that failed left an INVALID index, which the next run drops and builds again. Run again once the cause is fixed.";
        if (e is LockWaitLimitException waited)
        {
            return new MigrationException(
                MigrationFailure.LockTimeout,
                $"Migration {migration.Version} ({migration.Description}) could not take the locks it needs going {direction.ToString().ToLowerInvariant()}: a concurrent index statement waited {waited.Limit.TotalSeconds:0.###}s in total (the lock timeout) and was cancelled. "
                + $"A transaction that uses its table, or one that began before the build, is still open (see pg_stat_activity); run again when it has finished, or raise the lock timeout. {undone} Statement:{Environment.NewLine}{waited.Sql}",
                e);
        }

        if (attempts > 0)
        {
            return new MigrationException(
                MigrationFailure.LockTimeout,
                $"Migration {migration.Version} ({migration.Description}) could not take the locks it needs going {direction.ToString().ToLowerInvariant()}: {attempts} attempt(s) over {elapsed.TotalSeconds:0.#}s, each waiting at most {options.LockAttemptTimeout.TotalSeconds:0.###}s, ended with {cause}. "
                + $"A long transaction is probably holding a table it changes (see pg_stat_activity); run again when it has finished, or raise the lock timeout. {undone}{statement}",
                e);
        }

        return new MigrationException(
            postgres?.SqlState == PostgresErrorCodes.LockNotAvailable ? MigrationFailure.LockTimeout : MigrationFailure.MigrationFailed,
            $"Migration {migration.Version} ({migration.Description}) failed going {direction.ToString().ToLowerInvariant()}: {cause}. {undone}{statement}",
            e);
    }

    /// <summary>FluentMigrator's log lines, its SQL among them, to our logger at Debug level.</summary>
    private sealed class ForwardingLoggerProvider(ILogger logger) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logger.IsEnabled(LogLevel.Debug);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Internal.Log.FluentMigrator(logger, formatter(state, exception));

        public void Dispose()
        {
        }
    }
}
