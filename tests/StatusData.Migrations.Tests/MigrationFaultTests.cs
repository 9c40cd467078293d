using System.Diagnostics;
using Npgsql;
using StatusData.TestMigrations;

namespace StatusData.Migrations.Tests;

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

    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task SigkillOfTheCliInTheMiddleOfAMigrationLeavesThePreviousVersionAndARerunCompletes()
    {
        await using var db = await TestDb.CreateMigratedAsync("clikill", Ct);
        var database = new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!;
        var versionsBefore = await VersionsAsync(db);

        using var running = CliRunner.Start(UpArguments(db.ConnectionString, lockTimeoutSeconds: null, $"-c {SlowTestMigration.SleepSetting}=600"));
        var sleeper = await WaitForSleepingCliAsync(db, database);

        // The migration's CREATE TABLE has run, uncommitted, and the CLI sleeps inside the migration's transaction.
        var cli = await running.KillAsync(Ct);
        Assert.NotEqual(0, cli.ExitCode);
        Assert.DoesNotContain("applied", cli.Stdout, StringComparison.Ordinal);

        // The database is still at the previous version: no table, no version row.
        Assert.Equal(versionsBefore, await VersionsAsync(db));
        Assert.False(await db.TableExistsAsync(SlowTestMigration.Table, Ct), "the killed migration's table is visible");

        // The run's lock connection was idle in its transaction: its backend saw the closed socket and ended,
        // releasing the migration lock. FluentMigrator's backend sleeps on in the migration's transaction, which
        // can never commit now (its client is gone). A second runner takes the lock, and its CREATE TABLE waits
        // for the orphan's: bounded by the lock timeout, it gives up cleanly (exit 4), changing nothing.
        var blocked = await CliRunner.RunAsync(UpArguments(db.ConnectionString, lockTimeoutSeconds: 2, null), timeout: CliTimeout, cancellationToken: Ct);
        Assert.True(blocked.ExitCode == 4, blocked.ToString());
        Assert.Contains($"Migration {SlowVersion} (reliability test: slow migration) could not take the locks it needs going up", blocked.Stderr, StringComparison.Ordinal);
        Assert.Contains("ended with 55P03", blocked.Stderr, StringComparison.Ordinal);
        CliRunner.AssertDoesNotPrint(Password, blocked);

        Assert.Equal(versionsBefore, await VersionsAsync(db));

        // The server rolls the orphan back once it is terminated (as it would on noticing the dead socket).
        Assert.True(await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1, 20000)", Ct, sleeper), $"backend {sleeper} was not terminated");
        var rerun = await CliRunner.RunAsync(UpArguments(db.ConnectionString, lockTimeoutSeconds: 60, null), timeout: CliTimeout, cancellationToken: Ct);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Matches($@"applied\s+{SlowVersion}", rerun.Stdout);
        Assert.Contains($"database is at version {SlowVersion}", rerun.Stdout, StringComparison.Ordinal);
        Assert.Equal([.. versionsBefore, SlowVersion], await VersionsAsync(db));
        Assert.True(await db.TableExistsAsync(SlowTestMigration.Table, Ct));
        CliRunner.AssertDoesNotPrint(Password, cli);
        CliRunner.AssertDoesNotPrint(Password, rerun);
    }

    [Fact]
    public async Task WithTheMigrationLockHeldElsewhereUpExitsWithFourAfterTheLockTimeoutAndChangesNothing()
    {
        await using var db = await TestDb.CreateMigratedAsync("clilock", Ct);
        var versionsBefore = await VersionsAsync(db);

        await using (var holder = await MigrationLock.HoldAsync(db.ConnectionString, "lock-holder", Ct))
        {
            var cli = await CliRunner.RunAsync(UpArguments(db.ConnectionString, lockTimeoutSeconds: 2, null), timeout: CliTimeout, cancellationToken: Ct);

            Assert.True(cli.ExitCode == 4, cli.ToString());
            Assert.Contains("Timed out after 2s waiting for the migration lock", cli.Stderr, StringComparison.Ordinal);
            Assert.Contains($"backend pid {holder.ProcessID}", cli.Stderr, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed", cli.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("applied", cli.Stdout, StringComparison.Ordinal);
            CliRunner.AssertDoesNotPrint(Password, cli);
            Assert.Equal(versionsBefore, await VersionsAsync(db));
            Assert.False(await db.TableExistsAsync(SlowTestMigration.Table, Ct));
        }

        // Released (the holder's session ended): the same command goes through.
        var rerun = await CliRunner.RunAsync(UpArguments(db.ConnectionString, lockTimeoutSeconds: 2, null), timeout: CliTimeout, cancellationToken: Ct);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Equal([.. versionsBefore, SlowVersion], await VersionsAsync(db));
    }

    private static List<string> UpArguments(string connectionString, int? lockTimeoutSeconds, string? options)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Password = Password, Pooling = false };
        if (options is not null)
        {
            builder.Options = options;
        }

        var arguments = new List<string> { "up", "--connection", builder.ConnectionString, "--migrations-assembly", CliRunner.TestMigrationsAssembly };
        if (lockTimeoutSeconds is { } seconds)
        {
            arguments.AddRange(["--lock-timeout", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        return arguments;
    }

    private static async Task<List<long>> VersionsAsync(TestDb db) =>
        (await db.VersionRowsAsync(Ct)).Select(r => r.Version).ToList();

    /// <summary>Waits (up to a generous minute) until the CLI's backend sleeps in pg_sleep, and returns its pid.</summary>
    private static async Task<int> WaitForSleepingCliAsync(TestDb db, string database)
    {
        const string sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'statusdata-migrate' AND datname = $1 AND wait_event = 'PgSleep' LIMIT 1";
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await db.ScalarAsync<int?>(sql, Ct, database) is { } pid)
            {
                return pid;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"No backend matched within 60 s: {sql} [{database}]");
            }

            await Task.Delay(25, Ct);
        }
    }
}
