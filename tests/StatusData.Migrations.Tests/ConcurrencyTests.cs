using FluentMigrator;
using System.Text.RegularExpressions;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>Pods deploying at once: several runners on one empty database.</summary>
public sealed class ConcurrencyTests
{
    private const int Runners = 4;

    [Fact]
    public async Task FourRunnersStartedAtOnceApplyEachMigrationExactlyOnce()
    {
        await using var db = await TestDb.CreateEmptyAsync("concurrentapi", Ct);
        var results = await RunConcurrentlyAsync(db.ConnectionString);

        Assert.All(results, r => Assert.Equal(Known.KeysetIndexes, r.CurrentVersion));
        var applied = results.SelectMany(r => r.Steps).Select(s => (s.Version, s.Direction)).Order().ToList();
        Assert.Equal([(Known.Initial, MigrationDirection.Up), (Known.KeysetIndexes, MigrationDirection.Up)], applied);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    /// <summary>
    /// Some servers default to REPEATABLE READ or SERIALIZABLE. A runner that re-read the applied
    /// versions in a snapshot taken before it got the lock would apply a migration twice (or fail).
    /// </summary>
    [Fact]
    public async Task FourRunnersApplyEachMigrationExactlyOnceWhenTheDatabaseDefaultsToSerializable()
    {
        await using var db = await TestDb.CreateEmptyAsync("concurrentser", Ct);
        var database = new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!;
        await db.ExecuteAsync($"ALTER DATABASE \"{database}\" SET default_transaction_isolation = 'serializable'", Ct);

        var results = await RunConcurrentlyAsync(db.ConnectionString);

        await using (var fresh = new NpgsqlConnection(db.ConnectionString + ";Pooling=false"))
        {
            await fresh.OpenAsync(Ct);
            await using var show = new NpgsqlCommand("SHOW default_transaction_isolation", fresh);
            Assert.Equal("serializable", await show.ExecuteScalarAsync(Ct)); // what the runners' new sessions got
        }

        var applied = results.SelectMany(r => r.Steps).Select(s => s.Version).Order().ToList();
        Assert.Equal([Known.Initial, Known.KeysetIndexes], applied);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }

    private static async Task<MigrationResult[]> RunConcurrentlyAsync(string connectionString)
    {
        // Every runner waits at the gate; the last one to arrive opens it.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        var tasks = Enumerable.Range(0, Runners).Select(_ => Task.Run(
            async () =>
            {
                var runner = new StatusDataMigrator(connectionString, new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromSeconds(30) });
                if (Interlocked.Increment(ref arrived) == Runners)
                {
                    gate.SetResult();
                }

                await gate.Task;
                return await runner.UpAsync(cancellationToken: Ct);
            },
            Ct)).ToList();
        return await Task.WhenAll(tasks);
    }
}

/// <summary>
/// Deployments at once, as processes: four statusdata-migrate processes started back to back on one
/// database, fresh or half-migrated, going up or down, connecting directly or through PgBouncer in
/// transaction mode. Every process exits 0 and every migration is applied (or reverted) exactly once.
/// </summary>
public sealed partial class CliConcurrencyTests : IAsyncLifetime
{
    private const int Processes = 4;
    private PgBouncerProcess? _bouncer;

    public async ValueTask InitializeAsync() =>
        _bouncer = await PgBouncerProcess.StartAsync((await SharedPostgres.GetAsync()).Server.AdminConnectionString, Ct);

    public async ValueTask DisposeAsync()
    {
        if (_bouncer is not null)
        {
            await _bouncer.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task FourCliProcessesStartedAtOnceApplyEachMigrationExactlyOnce(bool halfMigrated, bool throughPgBouncer)
    {
        await using var db = await TestDb.CreateEmptyAsync("concurrentcli", Ct);
        if (halfMigrated)
        {
            await db.Runner().UpAsync(Known.Initial, Ct);
        }

        var results = await RunAtOnceAsync(["up"], Target(db, throughPgBouncer));

        Assert.All(results, r => Assert.Contains("database is at version 202611220900", r.Stdout, StringComparison.Ordinal));
        long[] expected = halfMigrated ? [Known.KeysetIndexes] : [Known.Initial, Known.KeysetIndexes];
        Assert.Equal(expected, results.SelectMany(r => StepLines(r, "applied")).Order());
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FourCliProcessesStartedAtOnceRevertEachMigrationExactlyOnce(bool throughPgBouncer)
    {
        await using var db = await TestDb.CreateEmptyAsync("concurrentdown", Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);

        var results = await RunAtOnceAsync(["down", "--to", "0"], Target(db, throughPgBouncer));

        Assert.All(results, r => Assert.Contains("database is at version 0", r.Stdout, StringComparison.Ordinal));
        Assert.Equal([Known.Initial, Known.KeysetIndexes], results.SelectMany(r => StepLines(r, "reverted")).Order());
        Assert.Empty(await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(Ct));
    }

    /// <summary>
    /// The lock holds for the whole run, also while a migration runs outside a transaction (CREATE INDEX CONCURRENTLY,
    /// held open here by an old snapshot): a second runner waits for it and gives up at its lock timeout, changing
    /// nothing; the first then completes alone. Directly and through PgBouncer in transaction mode, where only the
    /// lock's open transaction keeps its server connection.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WhileAnIndexIsBuiltOutsideATransactionASecondRunnerWaitsForTheLock(bool throughPgBouncer)
    {
        await using var db = await ConcurrentIndexTests.AtInitialWithAWriterAsync("cicserial");
        var (blocker, snapshot) = await ConcurrentIndexTests.OldSnapshotAsync(db);
        await using var blockerScope = blocker;
        using var first = CliRunner.Start(["up", "--lock-timeout", "60"], CliRunner.WithConnection(Target(db, throughPgBouncer)));
        await ConcurrentIndexTests.WaitForAsync(db, ConcurrentIndexTests.WaitingBuild);

        var second = await CliRunner.RunAsync(["up", "--lock-timeout", "2"], CliRunner.WithConnection(Target(db, throughPgBouncer)), timeout: TimeSpan.FromSeconds(60), cancellationToken: Ct);

        Assert.True(second.ExitCode == 4, second.ToString());
        Assert.Contains("waiting for the migration lock", second.Stderr, StringComparison.Ordinal);
        Assert.Equal([Known.Initial], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));

        await snapshot.CommitAsync(Ct);
        var done = await first.WaitAsync(TimeSpan.FromSeconds(120), Ct);
        Assert.True(done.ExitCode == 0, done.ToString());
        Assert.Equal([Known.KeysetIndexes], StepLines(done, "applied"));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }

    /// <summary>
    /// The lock belongs to a transaction, not to a session: after a run through PgBouncer in transaction
    /// mode, the server connections PgBouncer keeps pooled hold no advisory lock. (A session lock taken
    /// through PgBouncer would stay on whichever server connection ran it, for the next client to inherit.)
    /// </summary>
    [Fact]
    public async Task NoAdvisoryLockOutlivesARunOnPgBouncersPooledServerConnections()
    {
        await using var db = await TestDb.CreateEmptyAsync("bouncerlocks", Ct);

        await new StatusDataMigrator(Target(db, throughPgBouncer: true)).UpAsync(cancellationToken: Ct);

        // PgBouncer keeps the run's server connections open (the check below is about them) ...
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", Ct) >= 1);

        // ... and none of them, nor anyone in this database, holds an advisory lock (pg_locks is cluster-wide).
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", Ct));
    }

    private string Target(TestDb db, bool throughPgBouncer) =>
        throughPgBouncer
            ? _bouncer!.ConnectionStringFor(new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!)
            : db.ConnectionString;

    private static async Task<List<ProcessResult>> RunAtOnceAsync(string[] arguments, string connectionString)
    {
        // Started back to back, before any is awaited: they reach the database within the same moment.
        var processes = Enumerable.Range(0, Processes)
            .Select(_ => CliRunner.Start([.. arguments, "--lock-timeout", "60"], CliRunner.WithConnection(connectionString)))
            .ToList();
        var results = new List<ProcessResult>();
        foreach (var process in processes)
        {
            using (process)
            {
                results.Add(await process.WaitAsync(TimeSpan.FromSeconds(120), Ct));
            }
        }

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.ToString()));
        return results;
    }

    private static IEnumerable<long> StepLines(ProcessResult result, string verb) =>
        StepLine().Matches(result.Stdout)
            .Where(m => m.Groups[1].Value == verb)
            .Select(m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    // The CLI prints "applied  <version>  <description>  (<n> ms)" (padded to align with "reverted").
    [GeneratedRegex(@"^(applied|reverted)\s+(\d{12})\b", RegexOptions.Multiline)]
    private static partial Regex StepLine();
}
