namespace StatusData.Tests.Pagination;

/// <summary>
/// Keyset pages of the feed (newest first, with authors), a user's updates, a category and the users (in
/// sign-up order): stable with equal timestamps, no gaps, no repeats; and a stable leaderboard.
/// </summary>
public sealed class PaginationTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly ManualClock _clock = new(T0);

    private StatusDatabase Db => new(database.DataSource, timeProvider: _clock);

    [Fact]
    public async Task PagesOfAUsersUpdatesWithEqualTimestampsNeitherRepeatNorSkip()
    {
        var user = await CreateUserAsync();
        var posted = new List<StatusUpdate>();
        for (var i = 0; i < 23; i++)
        {
            // The clock stands still: every row has the same created_at, and only the id orders them.
            posted.Add((await Db.StatusUpdates.PostAsync(user.Id, $"m{i}", "same", 1, null, Ct)).StatusUpdate);
        }

        var seen = await ReadAllAsync(after => Db.StatusUpdates.ListByUserAsync(user.Id, 5, after, Ct), PageCursor.After);

        Assert.Equal(posted.OrderByDescending(p => p.CreatedAt).ThenByDescending(p => p.Id, GuidComparer.Postgres), seen);
    }

    [Fact]
    public async Task TheFeedIsNewestFirstWithAuthorsAcrossPages()
    {
        var alice = await CreateUserAsync();
        var bob = await CreateUserAsync();
        var posted = new List<StatusUpdateWithAuthor>();
        for (var i = 0; i < 12; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(i % 3 == 0 ? 1 : 0)); // runs of equal timestamps
            posted.Add(await Db.StatusUpdates.PostAsync(i % 2 == 0 ? alice.Id : bob.Id, $"feed {i}", "feed", 2, null, Ct));
        }

        var feed = await ReadAllAsync(after => Db.StatusUpdates.GetFeedAsync(4, after, Ct), row => PageCursor.After(row.StatusUpdate));

        var expectedOrder = posted.Select(p => p.StatusUpdate).OrderByDescending(p => p.CreatedAt).ThenByDescending(p => p.Id, GuidComparer.Postgres).ToList();
        var ours = feed.Where(f => f.StatusUpdate.Category == "feed").ToList();
        Assert.Equal(expectedOrder, ours.Select(f => f.StatusUpdate));
        foreach (var row in ours)
        {
            Assert.Equal(row.StatusUpdate.UserId, row.Author.Id);
            Assert.Equal(await Db.Users.GetByIdAsync(row.Author.Id, Ct), row.Author);
        }
    }

    [Fact]
    public async Task FeedPagesWalkEveryUpdateOnceNewestFirstWithAuthors()
    {
        var db = new StatusDatabase(database.DataSource);
        var authors = new List<User>();
        for (var i = 0; i < 3; i++)
        {
            var name = Unique.Name();
            authors.Add(await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct));
        }

        // Imported with equal timestamps in pairs, so the id must break ties.
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 11)
            .Select(i => new StatusUpdate(Guid.NewGuid(), authors[i % 3].Id, $"message {i}", i % 2 == 0 ? "work" : "fun", start.AddMinutes(i / 2)))
            .ToList();
        Assert.Equal(11, await db.StatusUpdates.ImportAsync(rows, Ct));

        var expected = rows.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, GuidComparer.Postgres).ToList();
        var seen = new List<StatusUpdateWithAuthor>();
        PageCursor? cursor = null;
        do
        {
            var page = await db.StatusUpdates.GetFeedAsync(4, cursor, Ct);
            Assert.InRange(page.Items.Count, 1, 4);
            seen.AddRange(page.Items);
            cursor = page.Next;
        }
        while (cursor is not null);

        // The feed is global and other tests of this class share the database: keep this test's rows.
        seen = seen.Where(s => authors.Any(a => a.Id == s.StatusUpdate.UserId)).ToList();
        Assert.Equal(expected, seen.Select(s => s.StatusUpdate));
        Assert.All(seen, s => Assert.Equal(authors.Single(a => a.Id == s.StatusUpdate.UserId), s.Author));
        Assert.Equal(DateTimeKind.Utc, seen[0].StatusUpdate.CreatedAt.Kind);

        var local = new PageCursor(DateTime.SpecifyKind(start, DateTimeKind.Local), Guid.Empty);
        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentException>(() => db.StatusUpdates.GetFeedAsync(4, local, Ct))).ParamName);
    }

    [Fact]
    public async Task CategoryListsHoldOnlyThatCategory()
    {
        var user = await CreateUserAsync();
        var category = "cat" + Guid.NewGuid().ToString("N")[..12];
        var wanted = new List<StatusUpdate>();
        for (var i = 0; i < 7; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            var post = (await Db.StatusUpdates.PostAsync(user.Id, $"c{i}", i % 2 == 0 ? category : "other", 1, null, Ct)).StatusUpdate;
            if (i % 2 == 0)
            {
                wanted.Add(post);
            }
        }

        var seen = await ReadAllAsync(after => Db.StatusUpdates.ListByCategoryAsync(category, 3, after, Ct), PageCursor.After);

        Assert.Equal(Enumerable.Reverse(wanted), seen);
    }

    [Fact]
    public async Task UsersAreListedInSignUpOrderAcrossPages()
    {
        for (var i = 0; i < 9; i++)
        {
            if (i % 3 == 0)
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
            }

            await CreateUserAsync();
        }

        var seen = await ReadAllAsync(after => Db.Users.ListAsync(4, after, Ct), PageCursor.After);

        var all = await ReadAllAsync(after => Db.Users.ListAsync(1000, after, Ct), PageCursor.After);
        Assert.Equal(all, seen);
        Assert.Equal(all.OrderBy(u => u.CreatedAt).ThenBy(u => u.Id, GuidComparer.Postgres), seen);
        Assert.Equal(seen.Count, seen.Select(u => u.Id).Distinct().Count());
    }

    [Fact]
    public async Task TheLeaderboardOrdersByXpAndBreaksTiesById()
    {
        var contenders = new List<User>();
        foreach (var award in new[] { 900_000, 900_100, 900_000, 900_050, 900_000 })
        {
            var user = await CreateUserAsync();
            contenders.Add((await Db.StatusUpdates.PostAsync(user.Id, "xp", "xp", award, null, Ct)).Author);
        }

        var top = await Db.Users.GetLeaderboardAsync(5, Ct);

        Assert.Equal(contenders.OrderByDescending(u => u.Xp).ThenBy(u => u.Id, GuidComparer.Postgres), top);
        Assert.Equal(top, await Db.Users.GetLeaderboardAsync(5, Ct));
        Assert.Equal(top.Take(2), await Db.Users.GetLeaderboardAsync(2, Ct));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public async Task PageSizesOutsideOneToAThousandAreRejected(int limit)
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Db.StatusUpdates.GetFeedAsync(limit, null, Ct));
        Assert.Equal("limit", error.ParamName);
        Assert.Equal("count", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Db.Users.GetLeaderboardAsync(limit, Ct))).ParamName);
    }

    private static async Task<List<T>> ReadAllAsync<T>(Func<PageCursor?, Task<Page<T>>> readPage, Func<T, PageCursor> cursorOf)
    {
        var all = new List<T>();
        PageCursor? after = null;
        for (var pages = 0; pages < 10_000; pages++)
        {
            var page = await readPage(after);
            all.AddRange(page.Items);
            if (page.Next is null)
            {
                return all;
            }

            Assert.Equal(cursorOf(page.Items[^1]), page.Next);
            after = page.Next;
        }

        throw new InvalidOperationException("Paging did not end.");
    }

    private async Task<User> CreateUserAsync()
    {
        var name = Unique.Name();
        return await Db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);
    }
}
