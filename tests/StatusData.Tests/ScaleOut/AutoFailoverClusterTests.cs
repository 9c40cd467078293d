using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace StatusData.Tests.ScaleOut;

/// <summary>Class fixture: one pg_auto_failover cluster (monitor, primary, synchronous standby) for the class.</summary>
public sealed class AutoFailoverClusterFixture : IAsyncLifetime
{
    private AutoFailoverCluster? _cluster;

    public AutoFailoverCluster Cluster => _cluster ?? throw new InvalidOperationException("Not initialized.");

    public async ValueTask InitializeAsync() => _cluster = await AutoFailoverCluster.StartAsync();

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// The high-availability harness itself, against real pg_auto_failover: the formation it starts, a
/// switchover, a failover after the primary is killed, and that nothing is left behind. The times it
/// measures go to the test output.
/// </summary>
[Trait("Category", "Slow")] // a monitor and two nodes of its own, and two more clusters started by tests
[Collection(AutoFailoverCluster.TestCollection)]
public sealed class AutoFailoverClusterTests(AutoFailoverClusterFixture fixture) : IClassFixture<AutoFailoverClusterFixture>
{
    private AutoFailoverCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task TheFormationHasAPrimaryAndASynchronousStandbyThatCommitsWaitFor()
    {
        var primary = await Cluster.GetPrimaryAsync(Ct);
        Assert.NotNull(primary);
        var standby = Assert.Single(Cluster.Nodes, n => n != primary);
        Assert.Equal(false, await ScalarAsync(primary, "SELECT pg_is_in_recovery()"));
        Assert.Equal(true, await ScalarAsync(standby, "SELECT pg_is_in_recovery()"));

        // pg_auto_failover names standbys as 'ANY 1 (…)', quorum commit, so PostgreSQL reports the standby as
        // 'quorum', never 'sync' (that needs 'FIRST n (…)'); with one candidate, every commit waits for it.
        Assert.Matches(@"^ANY 1 \(pgautofailover_standby_\d+\)$", (string)(await ScalarAsync(primary, "SHOW synchronous_standby_names"))!);
        Assert.Equal("on", await ScalarAsync(primary, "SHOW synchronous_commit"));
        Assert.Equal("streaming/quorum", await ScalarAsync(primary, "SELECT string_agg(state || '/' || sync_state, ',') FROM pg_stat_replication"));

        // And really: with the standby's WAL receiver frozen, a commit on the primary waits (SyncRep) until it thaws.
        await ScalarAsync(primary, "CREATE TABLE IF NOT EXISTS ha_probe (id bigserial PRIMARY KEY, note text NOT NULL)");
        var receiver = Convert.ToInt32(await ScalarAsync(standby, "SELECT pid FROM pg_stat_wal_receiver"), CultureInfo.InvariantCulture);
        await SignalAsync("STOP", receiver);
        Task<object?> insert;
        try
        {
            insert = ScalarAsync(primary, "INSERT INTO ha_probe (note) VALUES ('waits for the standby') RETURNING id");
            var waiting = false;
            for (var i = 0; i < 100 && !waiting; i++)
            {
                await Task.Delay(50, Ct);
                waiting = (long)(await ScalarAsync(primary, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"))! > 0;
            }

            Assert.True(waiting, "No commit waited for the synchronous standby.");
            Assert.False(insert.IsCompleted);
        }
        finally
        {
            await SignalAsync("CONT", receiver);
        }

        Assert.NotNull(await insert.WaitAsync(TimeSpan.FromSeconds(30), Ct));
    }

    [Fact]
    public async Task SwitchoverMakesTheStandbyThePrimaryAndReadWriteConnectionsFollowIt()
    {
        var before = await Cluster.GetPrimaryAsync(Ct);
        var clock = Stopwatch.StartNew();
        var after = await Cluster.SwitchoverAsync(Ct);
        var switchover = clock.Elapsed;

        Assert.NotNull(before);
        Assert.NotEqual(before, after);
        Assert.Equal(after, await Cluster.GetPrimaryAsync(Ct));
        await using var connection = new NpgsqlConnection(Cluster.ConnectionString("read-write"));
        await connection.OpenAsync(Ct);
        Assert.Equal(after.Port, connection.Port);
        await using var write = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS ha_switched (id int)", connection);
        await write.ExecuteNonQueryAsync(Ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"switchover {before.Name} -> {after.Name}: {switchover.TotalSeconds:F1} s until primary/secondary again");
    }

    [Fact]
    public async Task KillingThePrimaryPromotesTheStandbyWithEveryAcknowledgedCommitAndDisposeLeavesNothing()
    {
        var cluster = await AutoFailoverCluster.StartAsync(Ct);
        try
        {
            // An application's data source that has seen both hosts: the primary for writes, the standby for reads.
            await using var dataSource = new NpgsqlDataSourceBuilder(cluster.ConnectionString("read-write")).BuildMultiHost();
            await using (var connection = await dataSource.OpenConnectionAsync(TargetSessionAttributes.ReadWrite, Ct))
            {
                await using var setup = new NpgsqlCommand("CREATE TABLE ha_probe (id bigserial PRIMARY KEY, note text NOT NULL); INSERT INTO ha_probe (note) VALUES ('acknowledged before the kill')", connection);
                await setup.ExecuteNonQueryAsync(Ct);
            }

            await using (var connection = await dataSource.OpenConnectionAsync(TargetSessionAttributes.Standby, Ct))
            {
                await using var read = new NpgsqlCommand("SELECT count(*) FROM ha_probe", connection);
                await read.ExecuteScalarAsync(Ct);
            }

            var clock = Stopwatch.StartNew();
            var killed = await cluster.KillPrimaryPostmasterAsync(cancellationToken: Ct);
            var promoted = await cluster.WaitForPrimaryAsync(killed, TimeSpan.FromSeconds(60), Ct);
            var promotedAt = clock.Elapsed;

            Assert.NotEqual(killed, promoted.Node);
            // Its only standby is dead: writable, without a synchronous standby to wait for.
            Assert.Equal("wait_primary", promoted.State);

            // The first write through the multi-host data source, retried as an application would.
            long count = 0;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var connection = await dataSource.OpenConnectionAsync(TargetSessionAttributes.ReadWrite, Ct);
                    Assert.Equal(promoted.Node.Port, connection.Port);
                    await using var write = new NpgsqlCommand("INSERT INTO ha_probe (note) VALUES ('after the failover'); SELECT count(*) FROM ha_probe", connection);
                    count = (long)(await write.ExecuteScalarAsync(Ct))!;
                    break;
                }
                catch (NpgsqlException) when (attempt < 200)
                {
                    await Task.Delay(50, Ct);
                }
            }

            var firstWrite = clock.Elapsed;
            Assert.Equal(2, count); // the row committed before the kill was on the standby: synchronous replication
            Assert.True(firstWrite - promotedAt < TimeSpan.FromSeconds(5), $"First write {firstWrite - promotedAt} after the promotion.");
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"SIGKILL of {killed.Name} (keeper and postmaster): {promoted.Node.Name} {promoted.State} after {promotedAt.TotalSeconds:F1} s, "
                + $"first write through the multi-host data source after {firstWrite.TotalSeconds:F1} s");

            Assert.NotEmpty(ProcessesUnder(cluster.RootDirectory));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await cluster.DisposeAsync();
        }

        Assert.False(Directory.Exists(cluster.RootDirectory));
        Assert.Empty(ProcessesUnder(cluster.RootDirectory));
    }

    [Fact]
    public async Task AClusterLeftBehindByACrashedRunIsStoppedAndDeletedByTheNextRun()
    {
        var abandoned = await AutoFailoverCluster.StartAsync(Ct);
        try
        {
            // Pretend its owner crashed: point owner.pid at a process that has exited.
            using (var exited = ChildProcess.Start("true", []))
            {
                await exited.WaitAsync(cancellationToken: Ct);
                await File.WriteAllTextAsync(Path.Combine(abandoned.RootDirectory, "owner.pid"), exited.Id.ToString(CultureInfo.InvariantCulture), Ct);
            }

            Assert.NotEmpty(ProcessesUnder(abandoned.RootDirectory));
            Assert.True(await ThrowawayPostgresServer.CleanUpAbandonedAsync(Ct) >= 1);

            Assert.False(Directory.Exists(abandoned.RootDirectory));
            Assert.Empty(ProcessesUnder(abandoned.RootDirectory));
        }
        finally
        {
            await abandoned.DisposeAsync();
        }
    }

    private static async Task<object?> ScalarAsync(AutoFailoverNode node, string sql)
    {
        await using var connection = new NpgsqlConnection(AutoFailoverCluster.NodeConnectionString(node));
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(Ct);
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        var result = await ChildProcess.RunAsync("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10), cancellationToken: Ct);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>
    /// Processes whose command line or environment names the folder: everything pg_autoctl started inherits
    /// XDG_RUNTIME_DIR=folder/run, also the services and backends that rename themselves ("pg_autoctl: node active").
    /// </summary>
    private static List<int> ProcessesUnder(string root)
    {
        var found = new List<int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), CultureInfo.InvariantCulture, out var pid) || !Processes.IsRunning(pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(proc, "cmdline")).Contains(root, StringComparison.Ordinal)
                    || File.ReadAllText(Path.Combine(proc, "environ")).Contains(root, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read: not ours at all.
            }
        }

        return found;
    }
}
