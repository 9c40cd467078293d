using StatusData.Testing;
using Xunit;

namespace Sample;

/// <summary>A database per test, in one line.</summary>
public sealed class OnboardingTests
{
    [Fact]
    public async Task WelcomingANewUserPostsTheirFirstUpdate()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await StatusDataTestDatabase.CreateAsync(ct);

        var user = await new Onboarding(db.Database).WelcomeAsync("ada", "Ada", "ada@example.com", ct);

        var updates = await db.Database.StatusUpdates.ListByUserAsync(user.Id, limit: 10, cancellationToken: ct);
        Assert.Equal("Hello, I'm Ada!", Assert.Single(updates.Items).Message);
        Assert.Equal(10, user.Xp);
    }
}
