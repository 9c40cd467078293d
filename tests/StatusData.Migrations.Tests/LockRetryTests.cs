using System.Collections.Concurrent;
using System.Diagnostics;
using FluentMigrator;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>
/// DDL that needs ACCESS EXCLUSIVE never makes the apps queue behind it for longer than one attempt's lock timeout:
/// an attempt that cannot get its lock rolls back, pauses and tries again, up to the run's lock timeout; a deadlock is
/// retried the same way.
/// </summary>
public sealed class LockRetryTests
{
    [Fact]
    public async Task WhileAnAppTransactionHoldsUsersOtherSessionsKeepGoingAndTheMigrationCompletesOnceItCommits()
    {
        await using var db = await ConcurrentIndexTests.AtInitialWithAWriterAsync("lockretry");
        await db.ExecuteAsync(
            "INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, created_at) VALUES (gen_random_uuid(), 'other', 'Other', 'other@example.com', 'x', 0, 0, 0, now())",
            Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);

        // The app's long transaction: a row of users written and held.
        await using var app = await db.DataSource.OpenConnectionAsync(Ct);
        await using var appTransaction = await app.BeginTransactionAsync(Ct);
        await using (var hold = new NpgsqlCommand("UPDATE users SET xp = xp + 1 WHERE username = 'writer'", app, appTransaction))
        {
            await hold.ExecuteNonQueryAsync(Ct);
        }

        var log = new ListLogger();
        var options = new StatusDataMigratorOptions
        {
            Migrations = [.. Known.BuiltIn(), new AddsNicknameToUsers()],
            LockAttemptTimeout = TimeSpan.FromMilliseconds(300),
            LockTimeout = TimeSpan.FromSeconds(60),
        };
        var up = new StatusDataMigrator(db.ConnectionString, options, log).UpAsync(AddsNicknameToUsers.Version, Ct);

        // Three other sessions read and write users for 4 s; each statement is timed.
        var latencies = new ConcurrentBag<TimeSpan>();
        var traffic = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
        {
            var until = Stopwatch.StartNew();
            while (until.Elapsed < TimeSpan.FromSeconds(4))
            {
                var sql = i == 0 ? "SELECT count(*) FROM users" : "UPDATE users SET xp = xp + 1 WHERE username = 'other'";
                var one = Stopwatch.StartNew();
                await using var command = db.DataSource.CreateCommand(sql);
                await command.ExecuteNonQueryAsync(Ct);
                latencies.Add(one.Elapsed);
                await Task.Delay(20, Ct);
            }
        })).ToList();
        await Task.WhenAll(traffic);

        Assert.False(up.IsCompleted, "the migration finished although a transaction held users");
        await appTransaction.CommitAsync(Ct);
        var result = await up.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal([AddsNicknameToUsers.Version], result.Steps.Select(s => s.Version));
        Assert.True(await db.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname')", Ct));
        Assert.True(log.Lines.Any(line => line.StartsWith($"Warning: Migration {AddsNicknameToUsers.Version} attempt 1 gave up waiting for its locks (55P03)", StringComparison.Ordinal)), string.Join("\n", log.Lines));

        // Without retries each statement would have queued behind the migration's lock request for the whole 4 s.
        var slowest = latencies.Max();
        Assert.True(latencies.Count > 20, $"only {latencies.Count} statements ran");
        Assert.True(slowest < TimeSpan.FromSeconds(1.5), $"the slowest statement took {slowest.TotalMilliseconds:0} ms with a 300 ms lock attempt timeout");
    }

    [Fact]
    public async Task WhenTheBlockerOutlastsTheLockTimeoutTheRunExitsWithALockTimeoutAndChangesNothing()
    {
        await using var db = await ConcurrentIndexTests.AtInitialWithAWriterAsync("lockretrygiveup");
        await db.Runner().UpAsync(cancellationToken: Ct);
        await using var app = await db.DataSource.OpenConnectionAsync(Ct);
        await using var appTransaction = await app.BeginTransactionAsync(Ct);
        await using (var hold = new NpgsqlCommand("UPDATE users SET xp = xp + 1 WHERE username = 'writer'", app, appTransaction))
        {
            await hold.ExecuteNonQueryAsync(Ct);
        }

        var options = new StatusDataMigratorOptions
        {
            Migrations = [.. Known.BuiltIn(), new AddsNicknameToUsers()],
            LockAttemptTimeout = TimeSpan.FromMilliseconds(200),
            LockTimeout = TimeSpan.FromSeconds(3),
        };

        var e = await Assert.ThrowsAsync<MigrationException>(() => new StatusDataMigrator(db.ConnectionString, options).UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Matches(@"^Migration 209912010000 \(test: add users\.nickname\) could not take the locks it needs going up: [2-9]\d* attempt\(s\) over [\d.]+s, each waiting at most 0\.2s, ended with 55P03", e.Message);
        Assert.Contains("Its transaction was rolled back", e.Message, StringComparison.Ordinal);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.False(await db.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname')", Ct));
    }

    [Fact]
    public async Task ADeadlockWithAPostIsRetriedAndTheMigrationCompletes()
    {
        await using var db = await ConcurrentIndexTests.AtInitialWithAWriterAsync("deadlockretry");
        await db.Runner().UpAsync(cancellationToken: Ct);

        // A post's first half: the author's row of users, held.
        await using var app = await db.DataSource.OpenConnectionAsync(Ct);
        await using var appTransaction = await app.BeginTransactionAsync(Ct);
        await using (var author = new NpgsqlCommand("UPDATE users SET xp = xp + 10 WHERE username = 'writer'", app, appTransaction))
        {
            await author.ExecuteNonQueryAsync(Ct);
        }

        // Attempts wait longer than deadlock_timeout (1 s), so PostgreSQL's deadlock detector is what ends the first one.
        var log = new ListLogger();
        var options = new StatusDataMigratorOptions { Migrations = [.. Known.BuiltIn(), new LocksStatusUpdatesThenUsers()], LockAttemptTimeout = TimeSpan.FromSeconds(10) };
        var up = new StatusDataMigrator(db.ConnectionString, options, log).UpAsync(cancellationToken: Ct);

        // The migration holds status_updates and waits for users; the post's second half then waits for status_updates.
        await ConcurrentIndexTests.WaitForAsync(db, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'ALTER TABLE users%' AND wait_event_type = 'Lock' LIMIT 1");
        await using (var update = new NpgsqlCommand(
            "INSERT INTO status_updates (id, user_id, message, category, created_at) SELECT gen_random_uuid(), id, 'deadlock', 'general', now() FROM users WHERE username = 'writer'", app, appTransaction))
        {
            Assert.Equal(1, await update.ExecuteNonQueryAsync(Ct));
        }

        await appTransaction.CommitAsync(Ct);
        var result = await up.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal([LocksStatusUpdatesThenUsers.Version], result.Steps.Select(s => s.Version));
        Assert.Contains(log.Lines, line => line.StartsWith($"Warning: Migration {LocksStatusUpdatesThenUsers.Version} attempt 1 gave up waiting for its locks (40P01)", StringComparison.Ordinal));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM status_updates WHERE message = 'deadlock'", Ct));
        Assert.Equal(10, await db.ScalarAsync<int>("SELECT xp FROM users WHERE username = 'writer'", Ct));
    }

    /// <summary>ALTER TABLE users ADD COLUMN: ACCESS EXCLUSIVE on users for a moment.</summary>
    [Migration(209912010000, "test: add users.nickname")]
    private sealed class AddsNicknameToUsers : Migration
    {
        public const long Version = 209912010000;

        public override void Up() => Alter.Table("users").AddColumn("nickname").AsString(50).Nullable();

        public override void Down() => Delete.Column("nickname").FromTable("users");
    }

    /// <summary>Takes status_updates, pauses, then needs users: the opposite order of a post.</summary>
    [Migration(209912020000, "test: status_updates then users")]
    private sealed class LocksStatusUpdatesThenUsers : Migration
    {
        public const long Version = 209912020000;

        public override void Up()
        {
            Execute.Sql("ALTER TABLE status_updates ADD COLUMN deadlock_probe integer");
            Execute.Sql("SELECT pg_sleep(0.5)");
            Execute.Sql("ALTER TABLE users ADD COLUMN deadlock_probe integer");
        }

        public override void Down()
        {
            Execute.Sql("ALTER TABLE users DROP COLUMN deadlock_probe");
            Execute.Sql("ALTER TABLE status_updates DROP COLUMN deadlock_probe");
        }
    }

    /// <summary>Every line logged, as "Level: message".</summary>
    private sealed class ListLogger : ILogger
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
