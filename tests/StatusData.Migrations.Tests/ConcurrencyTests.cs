using FluentMigrator;
using System.Text.RegularExpressions;
using Npgsql;
using StatusData.Migrations.Tests.Support;

namespace StatusData.Migrations.Tests;

/// <summary>Pods deploying at once: several runners on one empty database.</summary>
public sealed class ConcurrencyTests
{
    private const int Runners = 4;

    [Fact]
    public async Task FourRunnersStartedAtOnceApplyEachMigrationExactlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("concurrentapi", ct);
        var results = await RunConcurrentlyAsync(db.ConnectionString, ct);

        Assert.All(results, r => Assert.Equal(Known.KeysetIndexes, r.CurrentVersion));
        var applied = results.SelectMany(r => r.Steps).Select(s => (s.Version, s.Direction)).Order().ToList();
        Assert.Equal([(Known.Initial, MigrationDirection.Up), (Known.KeysetIndexes, MigrationDirection.Up)], applied);
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));
    }

    /// <summary>
    /// Some servers default to REPEATABLE READ or SERIALIZABLE. A runner that re-read the applied
    /// versions in a snapshot taken before it got the lock would apply a migration twice (or fail).
    /// </summary>
    [Fact]
    public async Task FourRunnersApplyEachMigrationExactlyOnceWhenTheDatabaseDefaultsToSerializable()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("concurrentser", ct);
        var database = new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!;
        await db.ExecuteAsync($"ALTER DATABASE \"{database}\" SET default_transaction_isolation = 'serializable'", ct);

        var results = await RunConcurrentlyAsync(db.ConnectionString, ct);

        await using (var fresh = new NpgsqlConnection(db.ConnectionString + ";Pooling=false"))
        {
            await fresh.OpenAsync(ct);
            await using var show = new NpgsqlCommand("SHOW default_transaction_isolation", fresh);
            Assert.Equal("serializable", await show.ExecuteScalarAsync(ct)); // what the runners' new sessions got
        }

        var applied = results.SelectMany(r => r.Steps).Select(s => s.Version).Order().ToList();
        Assert.Equal([Known.Initial, Known.KeysetIndexes], applied);
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
    }

    private static async Task<MigrationResult[]> RunConcurrentlyAsync(string connectionString, CancellationToken ct)
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
                return await runner.UpAsync(cancellationToken: ct);
            },
            ct)).ToList();
        return await Task.WhenAll(tasks);
    }
}

public sealed partial class CliConcurrencyTests
{
    [Fact]
    public async Task FourCliProcessesStartedAtOnceApplyEachMigrationExactlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("concurrentcli", ct);

        // Started back to back, before any is awaited: they reach the database within the same moment.
        var processes = Enumerable.Range(0, 4)
            .Select(_ => CliRunner.Start(["up"], CliRunner.WithConnection(db.ConnectionString)))
            .ToList();
        var results = new List<CliResult>();
        foreach (var process in processes)
        {
            using (process)
            {
                results.Add(await CliRunner.WaitAsync(process, cancellationToken: ct));
            }
        }

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.ToString()));
        Assert.All(results, r => Assert.Contains("database is at version 202611220900", r.Stdout, StringComparison.Ordinal));
        var applied = results.SelectMany(r => AppliedLine().Matches(r.Stdout).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))).Order().ToList();
        Assert.Equal([Known.Initial, Known.KeysetIndexes], applied);
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
    }

    // The CLI prints "applied  <version>  <description>  (<n> ms)" (padded to align with "reverted").
    [GeneratedRegex(@"^applied\s+(\d{12})\b", RegexOptions.Multiline)]
    private static partial Regex AppliedLine();
}
