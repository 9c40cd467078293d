using Npgsql;
using StatusData.TestMigrations;
using StatusData.TestSupport;

namespace StatusData.Tests.Reliability;

/// <summary>
/// The statusdata-migrate CLI, run as a real process, under faults: SIGKILL in the middle of a slow
/// migration, and the migration lock held by another session. The slow migration comes from
/// tests/StatusData.TestMigrations through the CLI's hidden <c>--migrations-assembly</c> option.
/// Every connection string carries a password, which must never appear in the CLI's output.
/// </summary>
public sealed class MigrationFaultTests
{
    private const string Password = "s3cret-Reliability-pw";

    private const long SlowVersion = 209901010000;

    [Fact]
    public async Task SigkillOfTheCliInTheMiddleOfAMigrationLeavesThePreviousVersionAndARerunCompletes()
    {
        var connectionString = await (await SharedPostgres.GetAsync()).CreateMigratedAsync("clikill", TestContext.Current.CancellationToken);
        await using var admin = NpgsqlDataSource.Create(connectionString);
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var versionsBefore = await VersionsAsync(admin);

        using var cli = CliProcess.Start(UpArguments(connectionString, lockTimeoutSeconds: null, $"-c {SlowTestMigration.SleepSetting}=600"));
        var sleeper = await Backends.WaitForAsync(
            admin,
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'statusdata-migrate' AND datname = $1 AND wait_event = 'PgSleep' LIMIT 1",
            database);

        // The migration's CREATE TABLE has run, uncommitted, and the CLI sleeps inside the migration's transaction.
        await cli.KillHardAsync();
        Assert.NotEqual(0, cli.ExitCode);
        Assert.DoesNotContain("applied", cli.StandardOutput, StringComparison.Ordinal);

        // The database is still at the previous version: no table, no version row.
        Assert.Equal(versionsBefore, await VersionsAsync(admin));
        Assert.False(await TableExistsAsync(admin), "the killed migration's table is visible");

        // The run's lock connection was idle in its transaction: its backend saw the closed socket and ended,
        // releasing the migration lock. FluentMigrator's backend sleeps on in the migration's transaction, which
        // can never commit now (its client is gone). A second runner takes the lock, and its CREATE TABLE waits
        // for the orphan's: bounded by the lock timeout, it gives up cleanly (exit 4), changing nothing.
        using (var blocked = await CliProcess.RunAsync(UpArguments(connectionString, lockTimeoutSeconds: 2, null)))
        {
            Assert.True(blocked.ExitCode == 4, blocked.ToString());
            Assert.Contains($"Migration {SlowVersion} (reliability test: slow migration) failed going up: 55P03", blocked.StandardError, StringComparison.Ordinal);
            AssertNoPassword(blocked);
        }

        Assert.Equal(versionsBefore, await VersionsAsync(admin));

        // The server rolls the orphan back once it is terminated (as it would on noticing the dead socket).
        await Backends.TerminateAsync(admin, sleeper);
        using var rerun = await CliProcess.RunAsync(UpArguments(connectionString, lockTimeoutSeconds: 60, null));
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Matches($@"applied\s+{SlowVersion}", rerun.StandardOutput);
        Assert.Contains($"database is at version {SlowVersion}", rerun.StandardOutput, StringComparison.Ordinal);
        Assert.Equal([.. versionsBefore, SlowVersion], await VersionsAsync(admin));
        Assert.True(await TableExistsAsync(admin));
        AssertNoPassword(cli);
        AssertNoPassword(rerun);
    }

    [Fact]
    public async Task WithTheMigrationLockHeldElsewhereUpExitsWithFourAfterTheLockTimeoutAndChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await (await SharedPostgres.GetAsync()).CreateMigratedAsync("clilock", ct);
        await using var admin = NpgsqlDataSource.Create(connectionString);
        var versionsBefore = await VersionsAsync(admin);

        // Not pooled: closing it ends the session, and with it the session-level lock.
        await using (var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString))
        {
            await holder.OpenAsync(ct);
            await using (var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", holder))
            {
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = MigrationLock.Key });
                await command.ExecuteNonQueryAsync(ct);
            }

            int holderPid;
            await using (var command = new NpgsqlCommand("SELECT pg_backend_pid()", holder))
            {
                holderPid = (int)(await command.ExecuteScalarAsync(ct))!;
            }

            using var cli = await CliProcess.RunAsync(UpArguments(connectionString, lockTimeoutSeconds: 2, null));

            Assert.True(cli.ExitCode == 4, cli.ToString());
            Assert.Contains("Timed out after 2s waiting for the migration lock", cli.StandardError, StringComparison.Ordinal);
            Assert.Contains($"backend pid {holderPid}", cli.StandardError, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed", cli.StandardError, StringComparison.Ordinal);
            Assert.DoesNotContain("applied", cli.StandardOutput, StringComparison.Ordinal);
            AssertNoPassword(cli);
            Assert.Equal(versionsBefore, await VersionsAsync(admin));
            Assert.False(await TableExistsAsync(admin));
        }

        // Released (the holder's session ended): the same command goes through.
        using var rerun = await CliProcess.RunAsync(UpArguments(connectionString, lockTimeoutSeconds: 2, null));
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Equal([.. versionsBefore, SlowVersion], await VersionsAsync(admin));
    }

    private static List<string> UpArguments(string connectionString, int? lockTimeoutSeconds, string? options)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Password = Password, Pooling = false };
        if (options is not null)
        {
            builder.Options = options;
        }

        var arguments = new List<string> { "up", "--connection", builder.ConnectionString, "--migrations-assembly", CliProcess.TestMigrationsAssembly };
        if (lockTimeoutSeconds is { } seconds)
        {
            arguments.AddRange(["--lock-timeout", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        return arguments;
    }

    private static void AssertNoPassword(CliProcess cli)
    {
        Assert.DoesNotContain(Password, cli.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, cli.StandardError, StringComparison.Ordinal);
    }

    private static Task<List<long>> VersionsAsync(NpgsqlDataSource admin) =>
        Sql.ColumnAsync<long>(admin, "SELECT version FROM version_info ORDER BY version");

    private static Task<bool> TableExistsAsync(NpgsqlDataSource admin) =>
        Sql.ScalarAsync<bool>(admin, "SELECT to_regclass($1) IS NOT NULL", SlowTestMigration.Table);
}
