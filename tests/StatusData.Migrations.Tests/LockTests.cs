using FluentMigrator;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>The migration lock: bounded waits, and nothing left behind on the connection.</summary>
public sealed class LockTests
{
    [Fact]
    public async Task UpGivesUpAfterTheLockTimeoutNamingTheHolderAndAppliesNothing()
    {
        await using var db = await TestDb.CreateEmptyAsync("lock", Ct);
        await using var holder = await MigrationLock.HoldAsync(db.ConnectionString, "lock-holder", Ct);

        var runner = db.Runner(new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromSeconds(1) });
        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));
        var cli = await CliRunner.RunAsync(["up", "--lock-timeout", "1"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Contains($"backend pid {holder.ProcessID} (application 'lock-holder'", e.Message, StringComparison.Ordinal);
        Assert.True(cli.ExitCode == 4, cli.ToString());
        Assert.Contains($"backend pid {holder.ProcessID}", cli.Stderr, StringComparison.Ordinal);
        Assert.Empty(await db.RelationsAsync(Ct));

        await holder.CloseAsync(); // the holder's session ends, and with it the lock

        var result = await runner.UpAsync(cancellationToken: Ct);

        Assert.Equal([Known.Initial, Known.KeysetIndexes], result.Steps.Select(s => s.Version));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }

    /// <summary>
    /// The wait for the lock is the lock timeout's, not the connection string's Command Timeout (Npgsql's default 30 s
    /// once cut a 60 s lock wait short with "Exception while reading from stream" and exit 1).
    /// </summary>
    [Fact]
    public async Task TheLockWaitLastsTheLockTimeoutWhateverTheCommandTimeout()
    {
        await using var db = await TestDb.CreateEmptyAsync("lockcmd", Ct);
        await using var holder = await MigrationLock.HoldAsync(db.ConnectionString, "lock-holder", Ct);
        var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { CommandTimeout = 1 }.ConnectionString;

        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MigrationException>(() => new StatusDataMigrator(connection, new() { LockTimeout = TimeSpan.FromSeconds(3) }).UpAsync(cancellationToken: Ct));
        var waited = started.Elapsed;
        var cli = await CliRunner.RunAsync(["up", "--lock-timeout", "3"], CliRunner.WithConnection(connection), cancellationToken: Ct);

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Contains($"backend pid {holder.ProcessID}", e.Message, StringComparison.Ordinal);
        Assert.True(waited >= TimeSpan.FromSeconds(2.9), $"gave up after {waited}, before the 3 s lock timeout");
        Assert.True(cli.ExitCode == 4, cli.ToString());
        Assert.Empty(await db.RelationsAsync(Ct));
    }

    [Fact]
    public async Task ATableLockThatAMigrationWaitsForIsBoundedByTheLockTimeoutToo()
    {
        await using var db = await TestDb.CreateEmptyAsync("ddllock", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        await using var holder = new NpgsqlConnection(db.ConnectionString + ";Pooling=false");
        await holder.OpenAsync(Ct);
        await using var transaction = await holder.BeginTransactionAsync(Ct);
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE status_updates IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await lockTable.ExecuteNonQueryAsync(Ct);
        }

        var runner = db.Runner(new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromSeconds(1) });
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Contains("202611220900", e.Message, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(15));
        await transaction.RollbackAsync(Ct);
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    /// <summary>PostgreSQL reads lock_timeout = 0 as "wait for ever": a tiny timeout must not become that.</summary>
    [Fact]
    public async Task ALockTimeoutBelowOneMillisecondStillBoundsTheWait()
    {
        await using var db = await TestDb.CreateEmptyAsync("locktiny", Ct);
        await using var holder = await MigrationLock.HoldAsync(db.ConnectionString, "lock-holder", Ct);

        var runner = db.Runner(new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromTicks(1) });
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        giveUp.CancelAfter(TimeSpan.FromSeconds(10)); // an unbounded wait ends here, as a cancellation

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: giveUp.Token));

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Empty(await db.RelationsAsync(Ct));
    }

    /// <summary>lock_timeout takes at most 2147483647 ms (about 24.8 days); longer is refused up front, not by the server mid-run.</summary>
    [Fact]
    public async Task ALockTimeoutLongerThanPostgreSqlAcceptsIsRejectedBeforeConnecting()
    {
        const string unreachable = "Host=127.0.0.1;Port=1";

        Assert.Throws<ArgumentOutOfRangeException>(() => new StatusDataMigrator(unreachable, new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromDays(25) }));
        var longest = new StatusDataMigrator(unreachable, new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromMilliseconds(int.MaxValue) });
        Assert.Contains("SET LOCAL lock_timeout = '2147483647ms';", longest.Script(MigrationDirection.Up, 0, null), StringComparison.Ordinal);

        var cli = await CliRunner.RunAsync(["script", "up", "--from", "0", "--lock-timeout", "2160000"], cancellationToken: Ct);

        Assert.True(cli.ExitCode == 2, cli.ToString());
        Assert.Contains("--lock-timeout", cli.Stderr, StringComparison.Ordinal);
        Assert.Empty(cli.Stdout);
    }

    /// <summary>A run closes every connection it opened: the lock's, the state reads' and FluentMigrator's.</summary>
    [Fact]
    public async Task NoConnectionOfTheRunOutlivesIt()
    {
        await using var db = await TestDb.CreateEmptyAsync("locksession", Ct);

        await new StatusDataMigrator(db.ConnectionString + ";Application Name=runner-under-test").UpAsync(cancellationToken: Ct);

        // A closed backend leaves pg_stat_activity a moment after its client hung up.
        var left = -1L;
        for (var attempt = 0; attempt < 50 && left != 0; attempt++)
        {
            await Task.Delay(attempt == 0 ? 0 : 100, Ct);
            left = await db.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'runner-under-test'", Ct);
        }

        Assert.Equal(0L, left);
    }
}
