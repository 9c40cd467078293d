using StatusData.TestSupport;
using StatusData.Tests.Support;

namespace StatusData.Tests.Import;

/// <summary>
/// The feed (a prepared statement read by ordinal) and the import's row validation (allocation-free
/// unless a row is bad): pages walk every update exactly once, newest first, and a bad row is still
/// named precisely. Its own database, so the feed holds only this class's rows.
/// </summary>
public sealed class FeedAndImportTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task FeedPagesWalkEveryUpdateOnceNewestFirstWithAuthors()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var authors = new List<User>();
        for (var i = 0; i < 3; i++)
        {
            var name = Unique.Name();
            authors.Add(await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, ct));
        }

        // Imported with equal timestamps in pairs, so the id must break ties.
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 11)
            .Select(i => new StatusUpdate(Guid.NewGuid(), authors[i % 3].Id, $"message {i}", i % 2 == 0 ? "work" : "fun", start.AddMinutes(i / 2)))
            .ToList();
        Assert.Equal(11, await db.StatusUpdates.ImportAsync(rows, ct));

        var expected = rows.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StatusData.Tests.Support.GuidComparer.Postgres).ToList();
        var seen = new List<StatusUpdateWithAuthor>();
        PageCursor? cursor = null;
        do
        {
            var page = await db.StatusUpdates.GetFeedAsync(4, cursor, ct);
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
        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentException>(() => db.StatusUpdates.GetFeedAsync(4, local, ct))).ParamName);
    }

    [Fact]
    public async Task AnInvalidImportRowIsNamedByIndexAndNothingIsWritten()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var author = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, ct);
        var now = new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc);
        StatusUpdate Row(string message, string category, DateTime createdAt) => new(Guid.NewGuid(), author.Id, message, category, createdAt);

        var cases = new (StatusUpdate Bad, string ParamName)[]
        {
            (Row(" ", "work", now), "statusUpdates[1].Message"),
            (Row("nul \0 inside", "work", now), "statusUpdates[1].Message"),
            (Row("fine", new string('c', 21), now), "statusUpdates[1].Category"),
            (Row("fine", "work\ud800", now), "statusUpdates[1].Category"),
            (Row("fine", "work", DateTime.SpecifyKind(now, DateTimeKind.Unspecified)), "statusUpdates[1].CreatedAt"),
        };
        foreach (var (bad, paramName) in cases)
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => db.StatusUpdates.ImportAsync([Row("ok", "work", now), bad], ct));
            Assert.Equal(paramName, error.ParamName);
        }

        Assert.Empty((await db.StatusUpdates.ListByUserAsync(author.Id, 10, null, ct)).Items);
        Assert.Equal(1, await db.StatusUpdates.ImportAsync([Row("😀 emoji count as one", string.Concat(Enumerable.Repeat("😀", 20)), now)], ct));
    }
}
