using Npgsql;

namespace StatusData.Tests.Faults;

/// <summary>
/// Faults while the library works: its backend terminated mid-statement (alone and inside a caller's
/// transaction), statement and command timeouts, an exhausted pool, and read retries. Slow statements
/// come from test-only triggers in this class's own database that sleep when a value starts with
/// <c>sleep:</c>, so the test can find the library's backend (by its Application Name) in pg_sleep
/// and terminate it from an admin connection.
/// </summary>
[Trait("Category", "Slow")] // terminated backends, timeouts of a second, an exhausted pool
public sealed class FaultTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private const string SlowTriggers = """
        CREATE OR REPLACE FUNCTION reliability_sleep_status_updates() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.message LIKE 'sleep:%' THEN PERFORM pg_sleep(60); END IF;
                RETURN NEW;
            END IF;
            IF OLD.message LIKE 'sleep-on-delete:%' THEN PERFORM pg_sleep(60); END IF;
            RETURN OLD;
        END $$;
        CREATE OR REPLACE FUNCTION reliability_sleep_users() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.display_name LIKE 'sleep:%' THEN PERFORM pg_sleep(60); END IF;
            RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER reliability_sleep BEFORE INSERT OR DELETE ON status_updates FOR EACH ROW EXECUTE FUNCTION reliability_sleep_status_updates();
        CREATE OR REPLACE TRIGGER reliability_sleep BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION reliability_sleep_users();
        """;

    public static TheoryData<string> Operations => ["Users.CreateAsync", "Users.UpdateProfileAsync", "Users.DeleteAsync", "StatusUpdates.PostAsync", "StatusUpdates.ImportAsync"];

    private NpgsqlDataSource Admin => database.DataSource;

    public async ValueTask InitializeAsync() => await Sql.ExecuteAsync(Admin, SlowTriggers);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task ABackendTerminatedMidOperationRaisesATransientErrorWritesNothingAndTheNextCallSucceeds(string operation)
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out var app);
        var db = new StatusDatabase(dataSource);
        var user = await db.Users.CreateAsync(Unique.Name(), "Before", Unique.Email(Unique.Name()), "hash", null, Ct);
        await db.StatusUpdates.PostAsync(user.Id, "first", "general", 5, null, Ct);
        if (operation == "Users.DeleteAsync")
        {
            await db.StatusUpdates.ImportAsync([new StatusUpdate(Guid.CreateVersion7(), user.Id, "sleep-on-delete: the delete sleeps here", "general", DateTime.UtcNow)], Ct);
        }

        var before = await Sql.SnapshotAsync(Admin);

        Func<Task> slow = operation switch
        {
            "Users.CreateAsync" => () => db.Users.CreateAsync(Unique.Name(), "sleep: create", Unique.Email(Unique.Name()), "hash", null, Ct),
            "Users.UpdateProfileAsync" => () => db.Users.UpdateProfileAsync(user.Id, "sleep: update", Unique.Email(Unique.Name()), null, Ct),
            "Users.DeleteAsync" => () => db.Users.DeleteAsync(user.Id, Ct),
            "StatusUpdates.PostAsync" => () => db.StatusUpdates.PostAsync(user.Id, "sleep: post", "general", 10, null, Ct),
            "StatusUpdates.ImportAsync" => () => db.StatusUpdates.ImportAsync(
                [
                    new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 1", "general", DateTime.UtcNow),
                    new StatusUpdate(Guid.CreateVersion7(), user.Id, "sleep: imported 2", "general", DateTime.UtcNow),
                    new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 3", "general", DateTime.UtcNow),
                ],
                Ct),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };
        var running = slow();
        var pid = await Backends.WaitForSleepAsync(Admin, app);
        await Backends.TerminateAsync(Admin, pid);

        var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => running);

        // The server aborted the statement and said so (57P01): the outcome is known, nothing was written.
        Assert.False(error.OutcomeUnknown, error.ToString());
        Assert.Contains("terminated the connection", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));

        // The same data source goes on working.
        var next = await db.StatusUpdates.PostAsync(user.Id, "after the fault", "general", 1, null, Ct);
        Assert.Equal(6, next.Author.Xp);
        Assert.Equal(0, await Sql.OrphansAsync(Admin));
    }

    [Fact]
    public async Task ABackendTerminatedInsideACallersTransactionRollsBackAllOfItAndTheNextCallSucceeds()
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out var app);
        var db = new StatusDatabase(dataSource);
        var before = await Sql.SnapshotAsync(Admin);
        var username = Unique.Name();

        var transaction = await db.BeginTransactionAsync(Ct);
        await using (transaction)
        {
            var user = await transaction.Users.CreateAsync(username, "In a transaction", Unique.Email(username), "hash", null, Ct);
            await transaction.StatusUpdates.PostAsync(user.Id, "committed? no", "general", 10, null, Ct);
            var running = transaction.StatusUpdates.PostAsync(user.Id, "sleep: in the transaction", "general", 10, null, Ct);
            await Backends.TerminateAsync(Admin, await Backends.WaitForSleepAsync(Admin, app));

            var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => running);
            Assert.False(error.OutcomeUnknown, "nothing of a caller's transaction is committed before CommitAsync: " + error);
            Assert.Contains("transaction", error.Message, StringComparison.Ordinal);

            // Committing what is left cannot succeed, and says so in the same terms.
            var commit = await Assert.ThrowsAsync<TransientDatabaseException>(() => transaction.CommitAsync(Ct));
            Assert.False(commit.OutcomeUnknown, commit.ToString());
        }

        Assert.Equal(before, await Sql.SnapshotAsync(Admin));

        // Nothing of it was committed: the same username is free, and the data source works.
        var again = await db.Users.CreateAsync(username, "Again", Unique.Email(username), "hash", null, Ct);
        Assert.Equal(again, await db.Users.GetByUsernameAsync(username, Ct));
    }

    [Fact]
    public async Task ABackendTerminatedWhileTheCallersOwnSqlRunsLeavesTheTransactionReportingTransientErrors()
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out var app);
        var db = new StatusDatabase(dataSource);
        var before = await Sql.SnapshotAsync(Admin);

        var transaction = await db.BeginTransactionAsync(Ct);
        await using (transaction)
        {
            var user = await transaction.Users.CreateAsync(Unique.Name(), "Caller SQL", Unique.Email(Unique.Name()), "hash", null, Ct);
            await using var sleep = new NpgsqlCommand("SELECT pg_sleep(60)", transaction.Connection, transaction.Transaction);
            var running = sleep.ExecuteNonQueryAsync(Ct);
            await Backends.TerminateAsync(Admin, await Backends.WaitForSleepAsync(Admin, app));
            var raw = await Assert.ThrowsAsync<PostgresException>(() => running);
            Assert.Equal(PostgresErrorCodes.AdminShutdown, raw.SqlState);

            // The library's next call in the broken transaction is a typed transient error, not an InvalidOperationException.
            var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => transaction.StatusUpdates.PostAsync(user.Id, "after", "general", 1, null, Ct));
            Assert.False(error.OutcomeUnknown, error.ToString());
        }

        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
        await db.Users.CreateAsync(Unique.Name(), "Next", Unique.Email(Unique.Name()), "hash", null, Ct);
    }

    /// <summary>What a primary demoted by a switchover answers on the connections it still holds: 25006, read-only.</summary>
    [Fact]
    public async Task AWriteToAReadOnlyServerIsATransientErrorThatSaysItIsNoLongerThePrimaryAndWritesNothing()
    {
        var user = await new StatusDatabase(Admin).Users.CreateAsync(Unique.Name(), "ReadOnly", Unique.Email(Unique.Name()), "hash", null, Ct);
        await using var dataSource = Backends.Create(database.ConnectionString, out _, b => b.Options = "-c default_transaction_read_only=on");
        var db = new StatusDatabase(dataSource);
        var before = await Sql.SnapshotAsync(Admin);

        var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "to a standby", "general", 10, null, Ct));

        Assert.Contains("no longer the primary", error.Message, StringComparison.Ordinal);
        Assert.False(error.OutcomeUnknown, error.ToString());
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, Assert.IsType<PostgresException>(error.InnerException).SqlState);
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
    }

    /// <summary>During a failover no host of a multi-host connection string is the primary: Npgsql's "No suitable host was found".</summary>
    [Fact]
    public async Task WhenNoHostIsThePrimaryAWriteIsATransientErrorThatSaysNothingWasWritten()
    {
        var user = await new StatusDatabase(Admin).Users.CreateAsync(Unique.Name(), "NoPrimary", Unique.Email(Unique.Name()), "hash", null, Ct);
        var server = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        // The one host there is, made to look like a standby (read-only), twice over: no host qualifies as the primary.
        var standbysOnly = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Host = $"{server.Host}:{server.Port},{server.Host}:{server.Port}",
            TargetSessionAttributes = "read-write",
            Options = "-c default_transaction_read_only=on",
        };
        await using var dataSource = new NpgsqlDataSourceBuilder(standbysOnly.ConnectionString).BuildMultiHost();
        var db = new StatusDatabase(dataSource);
        var before = await Sql.SnapshotAsync(Admin);

        var post = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "nowhere to go", "general", 10, null, Ct));
        var begin = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.BeginTransactionAsync(Ct));

        foreach (var error in new[] { post, begin })
        {
            Assert.Contains("no connection could be opened", error.Message, StringComparison.Ordinal);
            Assert.Contains("Nothing was written.", error.Message, StringComparison.Ordinal);
            Assert.False(error.OutcomeUnknown, error.ToString());
            Assert.IsAssignableFrom<NpgsqlException>(error.InnerException);
        }

        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
    }

    [Fact]
    public async Task AStatementTimeoutIsATransientErrorThatNamesStatementTimeoutAndWritesNothing()
    {
        // 1 s, not less: the timeout also bounds Npgsql's type loading when a connection first opens, which
        // took over 50 ms on PostgreSQL 17 in a busy container. The trigger sleeps 60 s, so the post still times out.
        await using var dataSource = Backends.Create(database.ConnectionString, out _, b => b.Options = "-c statement_timeout=1000");
        var db = new StatusDatabase(dataSource);
        var user = await db.Users.CreateAsync(Unique.Name(), "Timeout", Unique.Email(Unique.Name()), "hash", null, Ct);
        var before = await Sql.SnapshotAsync(Admin);

        var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "sleep: too slow", "general", 10, null, Ct));

        Assert.Contains("statement_timeout", error.Message, StringComparison.Ordinal);
        Assert.False(error.OutcomeUnknown, error.ToString());
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
        var next = await db.StatusUpdates.PostAsync(user.Id, "fast enough", "general", 10, null, Ct);
        Assert.Equal(10, next.Author.Xp);
    }

    [Fact]
    public async Task ACommandTimeoutIsATransientErrorThatSaysTheDatabaseDidNotAnswerInTime()
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out _, b => b.CommandTimeout = 1);
        var db = new StatusDatabase(dataSource);
        var user = await db.Users.CreateAsync(Unique.Name(), "Timeout", Unique.Email(Unique.Name()), "hash", null, Ct);
        var before = await Sql.SnapshotAsync(Admin);

        var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "sleep: too slow", "general", 10, null, Ct));

        Assert.Contains("Command Timeout", error.Message, StringComparison.Ordinal);

        // Npgsql cancelled the statement on the server, so nothing was written; the flag may still say unknown.
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
        var next = await db.StatusUpdates.PostAsync(user.Id, "fast enough", "general", 10, null, Ct);
        Assert.Equal(10, next.Author.Xp);
    }

    [Fact]
    public async Task AnExhaustedPoolIsATransientErrorThatNamesThePoolAndWritesNothing()
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out _, b =>
        {
            b.MaxPoolSize = 1;
            b.Timeout = 1;
        });
        var db = new StatusDatabase(dataSource);
        var before = await Sql.SnapshotAsync(Admin);
        var username = Unique.Name();

        var holder = await db.BeginTransactionAsync(Ct);
        await using (holder)
        {
            var read = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.Users.GetByUsernameAsync(username, Ct));
            Assert.Contains("pool", read.Message, StringComparison.Ordinal);
            var write = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.Users.CreateAsync(username, "Pool", Unique.Email(username), "hash", null, Ct));
            Assert.Contains("pool", write.Message, StringComparison.Ordinal);
            Assert.False(write.OutcomeUnknown, "the write never reached a connection: " + write);
            var begin = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.BeginTransactionAsync(Ct));
            Assert.Contains("pool", begin.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, await Sql.SnapshotAsync(Admin));
        var created = await db.Users.CreateAsync(username, "Pool", Unique.Email(username), "hash", null, Ct);
        Assert.Equal(created, await db.Users.GetByUsernameAsync(username, Ct));
    }

    [Fact]
    public async Task WithThreeReadAttemptsAReadSurvivesATerminatedPooledConnection()
    {
        var user = await new StatusDatabase(Admin).Users.CreateAsync(Unique.Name(), "Reader", Unique.Email(Unique.Name()), "hash", null, Ct);

        // Control: without retries, the same fault fails the read. One pooled connection, so the next call gets the killed one.
        await using (var dataSource = Backends.Create(database.ConnectionString, out var app, b => b.MaxPoolSize = 1))
        {
            var once = new StatusDatabase(dataSource, new StatusDataOptions { ReadAttempts = 1 });
            Assert.Equal(user, await once.Users.GetByIdAsync(user.Id, Ct));
            await Backends.TerminateAsync(Admin, await Backends.WaitForIdleAsync(Admin, app));
            var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => once.Users.GetByIdAsync(user.Id, Ct));
            Assert.False(error.OutcomeUnknown);
        }

        await using (var dataSource = Backends.Create(database.ConnectionString, out var app, b => b.MaxPoolSize = 1))
        {
            var retrying = new StatusDatabase(dataSource, new StatusDataOptions { ReadAttempts = 3 });
            Assert.Equal(user, await retrying.Users.GetByIdAsync(user.Id, Ct));
            await Backends.TerminateAsync(Admin, await Backends.WaitForIdleAsync(Admin, app));
            Assert.Equal(user, await retrying.Users.GetByIdAsync(user.Id, Ct));
        }
    }

    [Fact]
    public async Task WritesAreNeverRetriedEvenWithReadAttempts()
    {
        await using var dataSource = Backends.Create(database.ConnectionString, out var app, b => b.MaxPoolSize = 1);
        var db = new StatusDatabase(dataSource, new StatusDataOptions { ReadAttempts = 3 });
        var user = await db.Users.CreateAsync(Unique.Name(), "Writer", Unique.Email(Unique.Name()), "hash", null, Ct);
        await Backends.TerminateAsync(Admin, await Backends.WaitForIdleAsync(Admin, app));

        var error = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "only once", "general", 7, null, Ct));

        // Not retried: no row, no XP. A retry would have succeeded on a fresh connection and returned normally.
        Assert.Equal(0L, await Sql.ScalarAsync<long>(Admin, "SELECT count(*) FROM status_updates WHERE user_id = $1", user.Id));
        Assert.Equal(0, await Sql.ScalarAsync<int>(Admin, "SELECT xp FROM users WHERE id = $1", user.Id));
        Assert.True(error.OutcomeUnknown || error.InnerException is PostgresException, error.ToString());

        var next = await db.StatusUpdates.PostAsync(user.Id, "only once", "general", 7, null, Ct);
        Assert.Equal(7, next.Author.Xp);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(Admin, "SELECT count(*) FROM status_updates WHERE user_id = $1", user.Id));
    }
}
