using Npgsql;

namespace StatusData.Tests.Posting;

/// <summary>Posting: the status row, XP and the daily streak, all in one statement.</summary>
public sealed class PostingTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 6, 10, 23, 59, 59, TimeSpan.Zero));

    private StatusDatabase Db => new(database.DataSource, timeProvider: _clock);

    [Fact]
    public async Task TheFirstPostStartsAStreakOfOneAndAwardsXp()
    {
        var user = await CreateUserAsync();

        var posted = await Db.StatusUpdates.PostAsync(user.Id, "hello", "general", 15, new DateOnly(2026, 6, 10), Ct);

        Assert.Equal(user with { Xp = 15, CurrentStreak = 1, LongestStreak = 1, LastPostDate = new DateOnly(2026, 6, 10) }, posted.Author);
        Assert.Equal(posted.Author, await Db.Users.GetByIdAsync(user.Id, Ct));
        Assert.Equal((user.Id, "hello", "general"), (posted.StatusUpdate.UserId, posted.StatusUpdate.Message, posted.StatusUpdate.Category));
        Assert.Equal(7, posted.StatusUpdate.Id.Version);
        Assert.Equal(posted, await Db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
    }

    [Fact]
    public async Task PostingTwiceOnTheSameDayKeepsTheStreakAndAddsXp()
    {
        var user = await CreateUserAsync();
        await PostAsync(user, "2026-06-09");
        await PostAsync(user, "2026-06-10");

        var author = await PostAsync(user, "2026-06-10");

        Assert.Equal((30, 2, 2), (author.Xp, author.CurrentStreak, author.LongestStreak));
    }

    [Theory]
    [InlineData("2026-06-09", "2026-06-10")] // consecutive days
    [InlineData("2026-01-31", "2026-02-01")] // month boundary
    [InlineData("2026-12-31", "2027-01-01")] // year boundary
    [InlineData("2028-02-28", "2028-02-29")] // leap day
    [InlineData("2028-02-29", "2028-03-01")]
    [InlineData("2027-02-28", "2027-03-01")] // no leap day
    public async Task PostingOnTheNextDayExtendsTheStreak(string previous, string next)
    {
        var user = await CreateUserAsync();
        await PostAsync(user, previous);

        var author = await PostAsync(user, next);

        Assert.Equal((2, 2, DateOnly.Parse(next, System.Globalization.CultureInfo.InvariantCulture)), (author.CurrentStreak, author.LongestStreak, author.LastPostDate!.Value));
    }

    [Theory]
    [InlineData("2026-06-08", "2026-06-10")] // one day missed
    [InlineData("2026-01-30", "2026-02-01")]
    [InlineData("2026-06-10", "2026-06-09")] // a day before the last post: not "the next day", so it restarts
    public async Task AGapRestartsTheStreakAtOneAndKeepsTheLongest(string previous, string next)
    {
        var user = await CreateUserAsync();
        await PostAsync(user, AddDays(previous, -2));
        await PostAsync(user, AddDays(previous, -1));
        await PostAsync(user, previous);

        var author = await PostAsync(user, next);

        Assert.Equal((1, 3), (author.CurrentStreak, author.LongestStreak));
        Assert.Equal(DateOnly.Parse(next, System.Globalization.CultureInfo.InvariantCulture), author.LastPostDate);
    }

    [Fact]
    public async Task ALongerSecondStreakBecomesTheLongest()
    {
        var user = await CreateUserAsync();
        foreach (var day in new[] { "2026-03-01", "2026-03-02", "2026-03-05", "2026-03-06", "2026-03-07" })
        {
            await PostAsync(user, day);
        }

        var author = (await Db.Users.GetByIdAsync(user.Id, Ct))!;
        Assert.Equal((3, 3, 50), (author.CurrentStreak, author.LongestStreak, author.Xp));
    }

    [Fact]
    public async Task WithoutADayTheClocksUtcDateIsUsed()
    {
        var user = await CreateUserAsync();
        _clock.Now = new DateTimeOffset(2026, 7, 4, 23, 30, 0, TimeSpan.FromHours(-5)); // 2026-07-05 04:30 UTC

        var posted = await Db.StatusUpdates.PostAsync(user.Id, "late", "night", 1, null, Ct);

        Assert.Equal(new DateOnly(2026, 7, 5), posted.Author.LastPostDate);
        Assert.Equal(new DateTime(2026, 7, 5, 4, 30, 0, DateTimeKind.Utc), posted.StatusUpdate.CreatedAt);
        Assert.Equal(DateTimeKind.Utc, posted.StatusUpdate.CreatedAt.Kind);
    }

    [Fact]
    public async Task PostingForAMissingUserThrowsNotFoundAndWritesNothing()
    {
        var missing = Guid.NewGuid();
        var before = await CountStatusUpdatesAsync();

        var error = await Assert.ThrowsAsync<UserNotFoundException>(() => Db.StatusUpdates.PostAsync(missing, "ghost", "none", 5, null, Ct));

        Assert.Equal(missing, error.UserId);
        Assert.Equal(before, await CountStatusUpdatesAsync());
    }

    [Fact]
    public async Task ANegativeAwardIsRejectedBeforeTheDatabase()
    {
        var user = await CreateUserAsync();

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Db.StatusUpdates.PostAsync(user.Id, "m", "c", -1, null, Ct));

        Assert.Equal("xpAward", error.ParamName);
        Assert.Equal(user, await Db.Users.GetByIdAsync(user.Id, Ct));
    }

    [Fact]
    public async Task ConcurrentPostsByOneUserAreAllCounted()
    {
        var user = await CreateUserAsync();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Db.StatusUpdates.PostAsync(user.Id, $"p{i}", "race", 3, new DateOnly(2026, 6, 10), Ct)));

        var author = (await Db.Users.GetByIdAsync(user.Id, Ct))!;
        Assert.Equal((120, 1, 1), (author.Xp, author.CurrentStreak, author.LongestStreak));
        Assert.Equal(40, (await Db.StatusUpdates.ListByUserAsync(user.Id, 100, null, Ct)).Items.Count);
    }

    [Fact]
    public async Task DeletingAStatusUpdateLeavesTheAuthorsXpAndStreak()
    {
        var user = await CreateUserAsync();
        var posted = await Db.StatusUpdates.PostAsync(user.Id, "m", "c", 7, null, Ct);

        Assert.True(await Db.StatusUpdates.DeleteAsync(posted.StatusUpdate.Id, Ct));

        Assert.Null(await Db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(posted.Author, await Db.Users.GetByIdAsync(user.Id, Ct));
        Assert.False(await Db.StatusUpdates.DeleteAsync(posted.StatusUpdate.Id, Ct));
    }

    /// <summary>The statements prepared on one pooled connection are reused call after call and keep the streak rules.</summary>
    [Fact]
    public async Task PostingAgainAndAgainOnOnePooledConnectionKeepsTheStreakRules()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

        // One physical connection: every call reuses the statements prepared on it by the first one.
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { MaxPoolSize = 1 }.ConnectionString);
        var db = new StatusDatabase(dataSource, timeProvider: clock);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);
        var day = new DateOnly(2026, 3, 1);
        StatusUpdateWithAuthor? last = null;
        for (var i = 0; i < 7; i++)
        {
            last = await db.StatusUpdates.PostAsync(user.Id, $"post {i}", "general", 5, day.AddDays(i / 2), Ct);
            Assert.Equal(last, await db.StatusUpdates.GetByIdAsync(last.StatusUpdate.Id, Ct));
        }

        Assert.Equal(35, last!.Author.Xp);
        Assert.Equal(4, last.Author.CurrentStreak);
        Assert.Equal(4, last.Author.LongestStreak);
        Assert.Equal(day.AddDays(3), last.Author.LastPostDate);
        Assert.Equal(last.Author, await db.Users.GetByIdAsync(user.Id, Ct));
        Assert.Equal(clock.Now.UtcDateTime, last.StatusUpdate.CreatedAt);

        // A gap restarts the streak; the longest one stays.
        var later = await db.StatusUpdates.PostAsync(user.Id, "back", "general", 0, day.AddDays(10), Ct);
        Assert.Equal((1, 4, 35), (later.Author.CurrentStreak, later.Author.LongestStreak, later.Author.Xp));
        Assert.True(await db.StatusUpdates.DeleteAsync(later.StatusUpdate.Id, Ct));
        Assert.False(await db.StatusUpdates.DeleteAsync(later.StatusUpdate.Id, Ct));
        Assert.Null(await db.StatusUpdates.GetByIdAsync(later.StatusUpdate.Id, Ct));
    }

    private static string AddDays(string day, int days) =>
        DateOnly.Parse(day, System.Globalization.CultureInfo.InvariantCulture).AddDays(days).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private async Task<User> PostAsync(User user, string day) =>
        (await Db.StatusUpdates.PostAsync(user.Id, "post on " + day, "daily", 10, DateOnly.Parse(day, System.Globalization.CultureInfo.InvariantCulture), Ct)).Author;

    private async Task<User> CreateUserAsync()
    {
        var name = Unique.Name();
        return await Db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);
    }

    private async Task<long> CountStatusUpdatesAsync()
    {
        await using var command = database.DataSource.CreateCommand("SELECT count(*) FROM status_updates");
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
