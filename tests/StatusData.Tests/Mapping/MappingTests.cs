using Npgsql;

namespace StatusData.Tests.Mapping;

/// <summary>Rows written the Python way read back exactly, and the streak goes on from them. (Time zones: <see cref="TimeZoneTests"/>.)</summary>
public sealed class MappingTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
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
}
