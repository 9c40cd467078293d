using StatusData.Testing;
using Xunit;

namespace Sample;

/// <summary>One database for the test class, created before its first test and dropped after its last.</summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    public StatusDataTestDatabase Db { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Db = await StatusDataTestDatabase.CreateAsync(TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => Db.DisposeAsync();
}

/// <summary>The tests of a class share its database; each starts from empty tables.</summary>
public sealed class LeaderboardTests(DatabaseFixture fixture) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await fixture.Db.ResetAsync(TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task TheBusiestPosterLeads()
    {
        var onboarding = new Onboarding(fixture.Db.Database);
        var ada = await onboarding.WelcomeAsync("ada", "Ada", "ada@example.com", Ct);
        await onboarding.WelcomeAsync("grace", "Grace", "grace@example.com", Ct);
        await fixture.Db.Database.StatusUpdates.PostAsync(ada.Id, "Shipped it", "work", xpAward: 5, cancellationToken: Ct);

        var leaders = await fixture.Db.Database.Users.GetLeaderboardAsync(count: 2, Ct);

        Assert.Equal(["ada", "grace"], leaders.Select(u => u.Username));
        Assert.Equal(15, leaders[0].Xp);
    }

    // Welcomes "ada" too: passes only because the reset emptied the table the other test filled.
    [Fact]
    public async Task ALoneNewcomerLeadsWithTheirWelcomeXp()
    {
        await new Onboarding(fixture.Db.Database).WelcomeAsync("ada", "Ada", "ada@example.com", Ct);

        var leader = Assert.Single(await fixture.Db.Database.Users.GetLeaderboardAsync(count: 10, Ct));

        Assert.Equal(10, leader.Xp);
    }
}
