using System.Diagnostics;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>
/// <c>statusdata-migrate up</c> against a real pg_auto_failover pair (<see cref="AutoFailoverCluster"/>), with a
/// connection string naming both nodes, while the engine switches the primary over: it completes or exits with its
/// documented code, leaves nothing half-applied, and a rerun against the new primary completes, with <c>status</c>
/// and Alembic's <c>current</c> agreeing.
/// </summary>
[Trait("Category", "Slow")] // a cluster of its own
[Collection(AutoFailoverCluster.TestCollection)]
public sealed class FailoverTests
{
    [Fact]
    public async Task UpStartedJustBeforeASwitchoverCompletesOrExitsWithItsCodeAndARerunOnTheNewPrimaryFinishesIt()
    {
        await using var cluster = await AutoFailoverCluster.StartAsync(Ct);
        var connectionString = $"Host={string.Join(',', cluster.Nodes.Select(n => $"127.0.0.1:{n.Port}"))};Username=postgres;Database=postgres;"
            + "Target Session Attributes=read-write;Host Recheck Seconds=1;Timeout=5";
        await new StatusDataMigrator(connectionString).UpAsync(Known.Initial, Ct);

        // Enough rows that the four concurrent index builds take a while (and the switchover lands among them).
        await using (var seed = new NpgsqlConnection(connectionString))
        {
            await seed.OpenAsync(Ct);
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, created_at)
                SELECT gen_random_uuid(), 'u' || i, 'U', 'u' || i || '@example.com', 'h', 0, 0, 0, now() FROM generate_series(1, 100) i;
                INSERT INTO status_updates (id, user_id, message, category, created_at)
                SELECT gen_random_uuid(), (SELECT id FROM users ORDER BY username LIMIT 1 OFFSET i % 100), 'm' || i, 'general', now() - i * interval '1 second'
                FROM generate_series(1, 300000) i;
                """,
                seed) { CommandTimeout = 120 };
            await command.ExecuteNonQueryAsync(Ct);
        }

        using var up = CliRunner.Start(["up", "--lock-timeout", "30"], CliRunner.WithConnection(connectionString));
        await Task.Delay(TimeSpan.FromMilliseconds(300), Ct);
        var clock = Stopwatch.StartNew();
        var primary = await cluster.SwitchoverAsync(Ct);
        var first = await up.WaitAsync(TimeSpan.FromMinutes(2), Ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"switchover to {primary.Name} took {clock.Elapsed.TotalSeconds:0.0} s; the first up exited {first.ExitCode}:\n{first}");

        // 0: done before or across the switchover; 1: a statement failed (the connection broke); 5: no connection.
        // Never anything else (no crash, no usage error).
        Assert.True(first.ExitCode is 0 or 1 or 5, first.ToString());
        Assert.DoesNotContain("Unhandled exception", first.Stderr, StringComparison.Ordinal);
        Assert.StartsWith($"target: {string.Join(',', cluster.Nodes.Select(n => $"127.0.0.1:{n.Port}"))}/postgres (read-write) as postgres", first.Stderr, StringComparison.Ordinal);
        var onPrimary = AutoFailoverCluster.NodeConnectionString(primary);
        if (first.ExitCode != 0)
        {
            // Nothing half-applied: 202611220900 is not recorded, and alembic_version still says a1b2c3d4e5f6.
            Assert.Equal([Known.Initial], await VersionsAsync(onPrimary));
        }

        var rerun = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(connectionString), TimeSpan.FromMinutes(2), Ct);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());

        Assert.Equal([Known.Initial, Known.KeysetIndexes], await VersionsAsync(onPrimary));
        Assert.Equal(0L, await ScalarAsync<long>(onPrimary, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"));
        var status = await CliRunner.RunAsync(["status"], CliRunner.WithConnection(connectionString), cancellationToken: Ct);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("alembic_version: a1b2c3d4e5f6; agrees with version_info", status.Stdout, StringComparison.Ordinal);
        var current = await PythonApp.AlembicAsync(onPrimary, "current");
        Assert.True(current.ExitCode == 0, current.ToString());
        Assert.Contains("a1b2c3d4e5f6 (head)", current.Stdout, StringComparison.Ordinal);
    }

    private static async Task<List<long>> VersionsAsync(string connectionString) =>
        [.. (await QueryAsync(connectionString, "SELECT version FROM version_info ORDER BY version")).Select(v => (long)v)];

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql) => (T)(await QueryAsync(connectionString, sql))[0];

    private static async Task<List<object>> QueryAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var values = new List<object>();
        while (await reader.ReadAsync(Ct))
        {
            values.Add(reader.GetValue(0));
        }

        return values;
    }
}
