using StatusData.TestSupport;

namespace StatusData.Tests;

public sealed class SmokeTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task CreatePostAndRead()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var user = await db.Users.CreateAsync("smoke", "Smoke", "smoke@example.com", "hash", null, ct);
        Assert.Equal(user, await db.Users.GetByIdAsync(user.Id, ct));
        var posted = await db.StatusUpdates.PostAsync(user.Id, "hello", "general", 10, null, ct);
        Assert.Equal(10, posted.Author.Xp);
        Assert.Equal(1, posted.Author.CurrentStreak);
        var feed = await db.StatusUpdates.GetFeedAsync(10, null, ct);
        Assert.Equal(posted, Assert.Single(feed.Items));
        var many = await db.Users.GetManyWithStatusUpdatesAsync([user.Id], ct);
        Assert.Equal(posted.StatusUpdate, Assert.Single(Assert.Single(many).StatusUpdates));
        var list = await db.Users.ListAsync(10, null, ct);
        Assert.Single(list.Items);
        Assert.True(await db.Users.DeleteAsync(user.Id, ct));
    }
}
