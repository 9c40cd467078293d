using Npgsql;

namespace StatusData.Tests.Import;

/// <summary>
/// <c>ImportAsync</c> (binary COPY): every row as given or none at all, a bad row named by its index
/// (the row validation is allocation-free unless a row is bad), and a missing author named, also inside
/// a caller's transaction. The import's text parameters are also in the bad-input corpus
/// (Validation/BadInputTests), and it is one of the operations of Faults/FaultTests.
/// </summary>
public sealed class ImportTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task BulkImportWritesAllRowsAsGivenOrNoneAtAll()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, "I", Unique.Email(name), "hash", null, Ct);
        var start = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 1000)
            .Select(i => new StatusUpdate(Guid.CreateVersion7(), user.Id, $"imported {i} 🎉", "import", start.AddMinutes(i)))
            .ToList();

        Assert.Equal(1000, await db.StatusUpdates.ImportAsync(rows, Ct));

        var stored = await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct);
        Assert.Equal(Enumerable.Reverse(rows), stored!.StatusUpdates);
        Assert.Equal(user, stored.User); // XP and streaks untouched

        var ghost = Guid.NewGuid();
        var withGhost = rows.Select(r => r with { Id = Guid.CreateVersion7() }).Append(new StatusUpdate(Guid.CreateVersion7(), ghost, "x", "import", start)).ToList();
        var error = await Assert.ThrowsAsync<UserNotFoundException>(() => db.StatusUpdates.ImportAsync(withGhost, Ct));
        Assert.Equal(ghost, error.UserId);

        var withBadRow = rows.Select(r => r with { Id = Guid.CreateVersion7() }).Append(new StatusUpdate(Guid.CreateVersion7(), user.Id, "bad\0", "import", start)).ToList();
        var badRow = await Assert.ThrowsAsync<ArgumentException>(() => db.StatusUpdates.ImportAsync(withBadRow, Ct));
        Assert.Equal("statusUpdates[1000].Message", badRow.ParamName);

        Assert.Equal(1000, (await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct))!.StatusUpdates.Count);
    }

    [Fact]
    public async Task AnInvalidImportRowIsNamedByIndexAndNothingIsWritten()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var author = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);
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
            var error = await Assert.ThrowsAsync<ArgumentException>(() => db.StatusUpdates.ImportAsync([Row("ok", "work", now), bad], Ct));
            Assert.Equal(paramName, error.ParamName);
        }

        Assert.Empty((await db.StatusUpdates.ListByUserAsync(author.Id, 10, null, Ct)).Items);
        Assert.Equal(1, await db.StatusUpdates.ImportAsync([Row("😀 emoji count as one", string.Concat(Enumerable.Repeat("😀", 20)), now)], Ct));
    }

    [Fact]
    public async Task AnImportWithAMissingAuthorInsideACallersTransactionNamesTheAuthorAndLeavesTheTransactionUsable()
    {
        // A pool of ONE connection: what runs after the failed import runs on the connection that saw it.
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = 1;
        await using var dataSource = builder.Build();
        var db = new StatusDatabase(dataSource);
        var name = Unique.Name("victim");
        var victim = await db.Users.CreateAsync(name, "Victim", Unique.Email(name), "hash", "https://example.com/a.png", Ct);
        await db.StatusUpdates.PostAsync(victim.Id, "existing", "general", 3, null, Ct);

        var before = await Sql.SnapshotAsync(database.DataSource);
        var ghost = Guid.CreateVersion7();
        StatusUpdateWithAuthor posted;

        var transaction = await db.BeginTransactionAsync(Ct);
        await using (transaction)
        {
            var error = await Assert.ThrowsAsync<UserNotFoundException>(() => transaction.StatusUpdates.ImportAsync(
                [
                    new StatusUpdate(Guid.CreateVersion7(), victim.Id, "fine", "general", DateTime.UtcNow),
                    new StatusUpdate(Guid.CreateVersion7(), ghost, "no such author", "general", DateTime.UtcNow),
                ],
                Ct));
            Assert.Equal(ghost, error.UserId);
            posted = await transaction.StatusUpdates.PostAsync(victim.Id, "after the failed import", "general", 1, null, Ct);
            await transaction.CommitAsync(Ct);
        }

        Assert.Equal(posted, await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(before.Split('\n').Length + 1, (await Sql.SnapshotAsync(database.DataSource)).Split('\n').Length);
    }

    [Fact]
    public async Task AMissingAuthorInASinglePassSequenceIsNamedToo()
    {
        // Rows that can be read only once (not a collection): the import remembers their authors as it copies them.
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, "Once", Unique.Email(name), "hash", null, Ct);
        var ghost = Guid.NewGuid();
        var reads = 0;

        IEnumerable<StatusUpdate> Once()
        {
            Assert.Equal(1, ++reads);
            yield return new StatusUpdate(Guid.CreateVersion7(), user.Id, "fine", "general", DateTime.UtcNow);
            yield return new StatusUpdate(Guid.CreateVersion7(), ghost, "no such author", "general", DateTime.UtcNow);
        }

        var error = await Assert.ThrowsAsync<UserNotFoundException>(() => db.StatusUpdates.ImportAsync(Once(), Ct));

        Assert.Equal(ghost, error.UserId);
        Assert.Equal(1, reads);
        Assert.Empty((await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct))!.StatusUpdates);
    }
}
