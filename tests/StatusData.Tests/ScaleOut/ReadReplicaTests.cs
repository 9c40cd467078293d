using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace StatusData.Tests.ScaleOut;

/// <summary>
/// Reads from standbys, for real: a primary and a streaming standby. With the standby's replay paused,
/// a row written on the primary is invisible on the standby, so whether a call sees it shows which
/// server served it.
/// </summary>
[Trait("Category", "Slow")] // a primary and a streaming standby of its own
public sealed class ReadReplicaTests(ReplicaPair pair) : IClassFixture<ReplicaPair>
{
    [Fact]
    public async Task TheStandbyReallyIsAStandbyThatReplicatesThePrimary()
    {
        Assert.Equal(false, await ReplicaPair.ScalarAsync(pair.Primary, "SELECT pg_is_in_recovery()", Ct));
        Assert.Equal(true, await ReplicaPair.ScalarAsync(pair.Standby, "SELECT pg_is_in_recovery()", Ct));
        Assert.Equal(2L, await ReplicaPair.ScalarAsync(pair.Standby, "SELECT count(*) FROM version_info", Ct));
    }

    [Fact]
    public async Task WithReadsFromStandbysLagTolerantReadsGoToTheStandbyWhileWritesAndTransactionsGoToThePrimary()
    {
        await using var dataSource = new NpgsqlDataSourceBuilder(pair.MultiHostConnectionString).BuildMultiHost();
        var routed = new StatusDatabase(dataSource, new StatusDataOptions { ReadsFromStandbys = true });
        var plain = new StatusDatabase(dataSource);
        var before = await routed.Users.CreateAsync(Unique.Name("before"), "Before", Unique.Email(Unique.Name("before")), "hash", null, Ct);
        await pair.Primary.WaitForReplayAsync(pair.Standby, Ct);
        Assert.Equal(before, await routed.Users.GetByIdAsync(before.Id, Ct));

        await PauseReplayAsync();
        User fresh;
        StatusUpdateWithAuthor posted;
        try
        {
            // Writes go to the primary: a standby would refuse them (read-only transaction).
            var name = Unique.Name("fresh");
            fresh = await routed.Users.CreateAsync(name, "Fresh", Unique.Email(name), "hash", null, Ct);
            posted = await routed.StatusUpdates.PostAsync(fresh.Id, "written while replay is paused", "scale", 5, null, Ct);
            Assert.Equal(5, posted.Author.Xp);
            var updated = await routed.Users.UpdateProfileAsync(before.Id, "Renamed", before.Email, null, Ct);
            Assert.Equal("Renamed", updated.DisplayName);

            // Lag-tolerant reads go to the standby, which has not replayed any of that.
            Assert.Null(await routed.Users.GetByIdAsync(fresh.Id, Ct));
            Assert.Null(await routed.Users.GetByUsernameAsync(fresh.Username, Ct));
            Assert.Null(await routed.Users.GetByEmailAsync(fresh.Email, Ct));
            Assert.Null(await routed.Users.GetWithStatusUpdatesAsync(fresh.Id, Ct));
            Assert.Empty(await routed.Users.GetManyWithStatusUpdatesAsync([fresh.Id], Ct));
            Assert.Equal("Before", (await routed.Users.GetByIdAsync(before.Id, Ct))!.DisplayName);
            Assert.Null(await routed.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
            Assert.DoesNotContain((await routed.StatusUpdates.GetFeedAsync(100, null, Ct)).Items, s => s.StatusUpdate.Id == posted.StatusUpdate.Id);
            Assert.Empty((await routed.StatusUpdates.ListByUserAsync(fresh.Id, 10, null, Ct)).Items);
            Assert.Empty((await routed.StatusUpdates.ListByCategoryAsync("scale", 10, null, Ct)).Items);
            Assert.DoesNotContain(await routed.Users.GetLeaderboardAsync(100, Ct), u => u.Id == fresh.Id);
            Assert.DoesNotContain((await routed.Users.ListAsync(100, null, Ct)).Items, u => u.Id == fresh.Id);

            // Everything inside a transaction runs on the primary and reads its own writes.
            await using (var transaction = await routed.BeginTransactionAsync(Ct))
            {
                Assert.Equal(fresh.Id, (await transaction.Users.GetByIdAsync(fresh.Id, Ct))?.Id);
                Assert.Contains((await transaction.StatusUpdates.GetFeedAsync(100, null, Ct)).Items, s => s.StatusUpdate.Id == posted.StatusUpdate.Id);
                await using var inRecovery = new NpgsqlCommand("SELECT pg_is_in_recovery()", transaction.Connection, transaction.Transaction);
                Assert.Equal(false, await inRecovery.ExecuteScalarAsync(Ct));
                await transaction.CommitAsync(Ct);
            }

            // Without the option, the same data source serves every call from its first host, the primary.
            Assert.Equal(fresh.Id, (await plain.Users.GetByIdAsync(fresh.Id, Ct))?.Id);
            Assert.Contains((await plain.StatusUpdates.GetFeedAsync(100, null, Ct)).Items, s => s.StatusUpdate.Id == posted.StatusUpdate.Id);
        }
        finally
        {
            await ResumeReplayAsync();
        }

        await pair.Primary.WaitForReplayAsync(pair.Standby, Ct);
        Assert.Equal(fresh.Id, (await routed.Users.GetByIdAsync(fresh.Id, Ct))?.Id);
        Assert.Equal(posted, await routed.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
    }

    [Fact]
    public async Task TheImportsMissingAuthorIsLookedUpOnThePrimaryNotOnAStaleStandby()
    {
        await using var dataSource = new NpgsqlDataSourceBuilder(pair.MultiHostConnectionString).BuildMultiHost();
        var routed = new StatusDatabase(dataSource, new StatusDataOptions { ReadsFromStandbys = true });
        var name = Unique.Name("gone");
        var gone = await routed.Users.CreateAsync(name, "Gone", Unique.Email(name), "hash", null, Ct);
        await pair.Primary.WaitForReplayAsync(pair.Standby, Ct);

        await PauseReplayAsync();
        try
        {
            Assert.True(await routed.Users.DeleteAsync(gone.Id, Ct));
            Assert.NotNull(await routed.Users.GetByIdAsync(gone.Id, Ct)); // the standby still has the user

            var e = await Assert.ThrowsAsync<UserNotFoundException>(() => routed.StatusUpdates.ImportAsync(
                [new StatusUpdate(Guid.CreateVersion7(), gone.Id, "imported", "scale", DateTime.UtcNow)], Ct));

            Assert.Equal(gone.Id, e.UserId);
        }
        finally
        {
            await ResumeReplayAsync();
        }
    }

    [Fact]
    public async Task AddStatusDataWithSeveralHostsAndTheOptionRoutesReadsToTheStandby()
    {
        var services = new ServiceCollection();
        services.AddStatusData(pair.MultiHostConnectionString, o => o.ReadsFromStandbys = true);
        await using var provider = services.BuildServiceProvider();
        var users = provider.GetRequiredService<IUserRepository>();

        await PauseReplayAsync();
        try
        {
            var name = Unique.Name("di");
            var created = await users.CreateAsync(name, "DI", Unique.Email(name), "hash", null, Ct);

            Assert.Null(await users.GetByIdAsync(created.Id, Ct));
        }
        finally
        {
            await ResumeReplayAsync();
        }
    }

    private async Task PauseReplayAsync() => await ReplicaPair.ScalarAsync(pair.Standby, "SELECT pg_wal_replay_pause()", Ct);

    private async Task ResumeReplayAsync() => await ReplicaPair.ScalarAsync(pair.Standby, "SELECT pg_wal_replay_resume()", CancellationToken.None);
}

/// <summary>With its standby down, a routed StatusDatabase serves reads from the primary.</summary>
[Trait("Category", "Slow")] // a primary and a streaming standby of its own
public sealed class StandbyDownTests(ReplicaPair pair) : IClassFixture<ReplicaPair>
{
    [Fact]
    public async Task ReadsFallBackToThePrimaryWhenTheStandbyIsStopped()
    {
        await using var dataSource = new NpgsqlDataSourceBuilder(pair.MultiHostConnectionString).BuildMultiHost();
        var routed = new StatusDatabase(dataSource, new StatusDataOptions { ReadsFromStandbys = true });
        var name = Unique.Name("up");
        var user = await routed.Users.CreateAsync(name, "Up", Unique.Email(name), "hash", null, Ct);
        await pair.Primary.WaitForReplayAsync(pair.Standby, Ct);
        Assert.Equal(user, await routed.Users.GetByIdAsync(user.Id, Ct)); // a pooled connection to the standby now exists

        await pair.Standby.StopAsync(Ct);
        dataSource.Clear(); // the standby's pooled connections are dead: drop them rather than fail one read on each

        var posted = await routed.StatusUpdates.PostAsync(user.Id, "while the standby is down", "scale", 3, null, Ct);
        Assert.Equal(posted, await routed.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(posted.Author, await routed.Users.GetByIdAsync(user.Id, Ct));
        Assert.Contains((await routed.StatusUpdates.GetFeedAsync(50, null, Ct)).Items, s => s.StatusUpdate.Id == posted.StatusUpdate.Id);
    }
}
