using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.Faults;

/// <summary>Class fixture: a throwaway server whose commits wait for a synchronous standby that never comes.</summary>
public sealed class StandbyThatNeverAnswersFixture : IAsyncLifetime
{
    private ThrowawayPostgresServer? _server;

    /// <summary>
    /// The server, as the code under test reaches it: every commit waits for the missing standby (synchronous_commit is
    /// on for these sessions; the throwaway server's own default is off).
    /// </summary>
    public string ConnectionString => _server!.AdminConnectionString + ";Options=-c synchronous_commit=on";

    /// <summary>The same server, committing without waiting for the standby: for setting up and checking.</summary>
    public NpgsqlDataSource Local { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await ThrowawayPostgresServer.StartAsync();
        await new StatusDataMigrator(_server.AdminConnectionString).UpAsync();
        Local = NpgsqlDataSource.Create(_server.AdminConnectionString + ";Options=-c synchronous_commit=local");
        await Sql.ScalarAsync<object>(Local, "ALTER SYSTEM SET synchronous_standby_names = 'standby_that_never_connects'");
        await Sql.ScalarAsync<object>(Local, "SELECT pg_reload_conf()");
        // The reload is asynchronous: wait until new sessions have the setting, then give the checkpointer (which tells
        // committing backends that a synchronous standby is defined) a moment to have it too.
        await using var fresh = NpgsqlDataSource.Create(_server.AdminConnectionString + ";Pooling=false");
        for (var i = 0; i < 100 && await Sql.ScalarAsync<string>(fresh, "SHOW synchronous_standby_names") != "standby_that_never_connects"; i++)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
    }

    public async ValueTask DisposeAsync()
    {
        await Local.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// A commit that waits for a synchronous standby and is cancelled (the caller's token, or the Command Timeout) is not
/// rolled back: PostgreSQL stops waiting, keeps it on the primary and answers success with a WARNING. StatusData must not
/// report that as done (a failover before the standby has it loses it): it is a <see cref="TransientDatabaseException"/>
/// with <see cref="TransientDatabaseException.OutcomeUnknown"/>, whose message says why. Here the standby named in
/// <c>synchronous_standby_names</c> never connects, so every commit waits until it is cancelled.
/// </summary>
[Trait("Category", "Slow")] // a server of its own
public sealed class SynchronousCommitTests(StandbyThatNeverAnswersFixture fixture) : IClassFixture<StandbyThatNeverAnswersFixture>
{
    [Fact]
    public async Task APostWhoseWaitForTheStandbyTheCallerCancelsIsReportedAsOutcomeUnknownNotAsDone()
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        var db = new StatusDatabase(dataSource, new StatusDataOptions());
        var user = await CreateUserAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var e = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "cancelled while waiting", "c", 10, null, cancel.Token));

        Assert.True(e.OutcomeUnknown);
        Assert.Contains("synchronous standby was cancelled by the caller's cancellation token", e.Message, StringComparison.Ordinal);
        Assert.IsType<OperationCanceledException>(e.InnerException);
        // "Unknown", and rightly so: the post is on the primary, not on a standby.
        Assert.Equal(1L, await Sql.ScalarAsync<long>(fixture.Local, "SELECT count(*) FROM status_updates WHERE message = 'cancelled while waiting' AND user_id = $1", user.Id));
    }

    [Fact]
    public async Task APostWhoseWaitForTheStandbyRunsItsCommandTimeoutIsReportedAsOutcomeUnknownNotAsDone()
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString + ";Command Timeout=1");
        var db = new StatusDatabase(dataSource, new StatusDataOptions());
        var user = await CreateUserAsync();

        var e = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.StatusUpdates.PostAsync(user.Id, "timed out while waiting", "c", 10, null, Ct));

        Assert.True(e.OutcomeUnknown);
        Assert.Contains("synchronous standby was cancelled by the connection string's Command Timeout (1 s)", e.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(fixture.Local, "SELECT count(*) FROM status_updates WHERE message = 'timed out while waiting' AND user_id = $1", user.Id));
    }

    [Fact]
    public async Task ACallersCommitWhoseWaitForTheStandbyIsCancelledIsReportedAsOutcomeUnknownNotAsDone()
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        var db = new StatusDatabase(dataSource, new StatusDataOptions());
        var user = await CreateUserAsync();
        await using var transaction = await db.BeginTransactionAsync(Ct);
        await transaction.StatusUpdates.PostAsync(user.Id, "committed while waiting", "c", 10, null, Ct);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var e = await Assert.ThrowsAsync<TransientDatabaseException>(() => transaction.CommitAsync(cancel.Token));

        Assert.True(e.OutcomeUnknown);
        Assert.Contains("synchronous standby was cancelled by the caller's cancellation token", e.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(fixture.Local, "SELECT count(*) FROM status_updates WHERE message = 'committed while waiting' AND user_id = $1", user.Id));
    }

    [Fact]
    public async Task AWarningWithoutACancelIsNoReasonToDoubtAWrite()
    {
        // Commits that do not wait (synchronous_commit=local), and a trigger of the other app's that raises a WARNING.
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString.Replace("synchronous_commit=on", "synchronous_commit=local", StringComparison.Ordinal));
        var db = new StatusDatabase(dataSource, new StatusDataOptions());
        var user = await CreateUserAsync();
        await Sql.ScalarAsync<object>(fixture.Local, """
            CREATE FUNCTION warn_on_post() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE WARNING 'posted'; RETURN NEW; END $$;
            CREATE TRIGGER warn_on_post AFTER INSERT ON status_updates FOR EACH ROW EXECUTE FUNCTION warn_on_post();
            """);
        try
        {
            var posted = await db.StatusUpdates.PostAsync(user.Id, "warned", "c", 10, null, Ct);
            Assert.Equal("warned", posted.StatusUpdate.Message);
        }
        finally
        {
            await Sql.ScalarAsync<object>(fixture.Local, "DROP TRIGGER warn_on_post ON status_updates; DROP FUNCTION warn_on_post()");
        }
    }

    private async Task<User> CreateUserAsync()
    {
        var db = new StatusDatabase(fixture.Local, new StatusDataOptions());
        var name = Unique.Name("syncrep");
        return await db.Users.CreateAsync(name, "Sync", Unique.Email(name), "hash", null, Ct);
    }
}
