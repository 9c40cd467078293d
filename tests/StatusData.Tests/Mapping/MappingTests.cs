using Npgsql;
using StatusData.Tests.Support;
using StatusData.TestSupport;

namespace StatusData.Tests.Mapping;

/// <summary>Rows written the Python way read back exactly; session settings don't matter.</summary>
public sealed class MappingTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RowsWrittenWithThePythonModelsConventionsReadBackExactly()
    {
        // SQLAlchemy: uuid4 ids generated client-side, datetime.now(UTC) with microseconds, a date for last_post_date.
        var userId = Guid.Parse("8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f");
        var statusId = Guid.Parse("c9f0f895-fb98-4b91-a1f6-0123456789ab");
        var created = new DateTime(2026, 2, 28, 22, 15, 3, DateTimeKind.Utc).AddTicks(123_450);
        await using (var batch = database.DataSource.CreateBatch())
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
                VALUES ('8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f', 'py_user', 'Py Thon', 'py@example.com', 'pbkdf2:sha256:600000$x$y', NULL, 42, 3, 7, '2026-02-27', '2026-02-28 22:15:03.012345+00')
                """));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO status_updates (id, user_id, message, category, created_at)
                VALUES ('c9f0f895-fb98-4b91-a1f6-0123456789ab', '8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f', 'from python', 'work', '2026-02-28 23:15:03.012345+01')
                """));
            await batch.ExecuteNonQueryAsync(Ct);
        }

        var db = new StatusDatabase(database.DataSource);
        var user = await db.Users.GetByIdAsync(userId, Ct);
        var update = await db.StatusUpdates.GetByIdAsync(statusId, Ct);

        var expectedUser = new User(userId, "py_user", "Py Thon", "py@example.com", "pbkdf2:sha256:600000$x$y", null, 42, 3, 7, new DateOnly(2026, 2, 27), created);
        Assert.Equal(expectedUser, user);
        Assert.Equal(DateTimeKind.Utc, user!.CreatedAt.Kind);
        Assert.Equal(new StatusUpdateWithAuthor(new StatusUpdate(statusId, userId, "from python", "work", created), expectedUser), update);

        // And the streak logic continues from the Python side's state.
        var posted = await db.StatusUpdates.PostAsync(userId, "from dotnet", "work", 8, new DateOnly(2026, 2, 28), Ct);
        Assert.Equal((50, 4, 7), (posted.Author.Xp, posted.Author.CurrentStreak, posted.Author.LongestStreak));
    }

    [Theory]
    [InlineData("Asia/Kolkata")]
    [InlineData("America/Los_Angeles")]
    [InlineData("Pacific/Kiritimati")]
    public async Task ASessionTimeZoneOtherThanUtcChangesNothing(string timeZone)
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 12, 31, 23, 30, 0, TimeSpan.Zero));
        await using var zoned = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Timezone = timeZone }.ConnectionString);
        var inZone = new StatusDatabase(zoned, timeProvider: clock);
        var inUtc = new StatusDatabase(database.DataSource, timeProvider: clock);
        await using (var check = zoned.CreateCommand("SHOW TimeZone"))
        {
            Assert.Equal(timeZone, await check.ExecuteScalarAsync(Ct));
        }

        var name = Unique.Name();
        var created = await inZone.Users.CreateAsync(name, "Z", Unique.Email(name), "hash", null, Ct);
        var posted = await inZone.StatusUpdates.PostAsync(created.Id, "tz", "tz", 1, null, Ct);

        Assert.Equal(new DateTime(2026, 12, 31, 23, 30, 0, DateTimeKind.Utc), created.CreatedAt);
        Assert.Equal(new DateOnly(2026, 12, 31), posted.Author.LastPostDate);
        Assert.Equal(await inUtc.Users.GetByIdAsync(created.Id, Ct), await inZone.Users.GetByIdAsync(created.Id, Ct));
        Assert.Equal(await inUtc.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct), await inZone.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(posted, await inUtc.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(DateTimeKind.Utc, (await inZone.Users.GetByIdAsync(created.Id, Ct))!.CreatedAt.Kind);
    }

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
}
