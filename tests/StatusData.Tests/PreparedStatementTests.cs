using Npgsql;
using StatusData.Tests.Support;
using StatusData.TestSupport;

namespace StatusData.Tests;

/// <summary>
/// The single-row operations run as explicitly prepared statements with positional parameters, read by
/// ordinal. These tests pin what that must not change: every column round-trips (NULLs included),
/// the statements work again and again on the same pooled connection and inside a caller's transaction,
/// and errors still become StatusData's exceptions.
/// </summary>
public sealed class PreparedStatementTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task EveryColumnRoundTripsWithAndWithoutAnAvatar()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        foreach (var avatar in new[] { null, "https://cdn.example.com/a.png" })
        {
            var name = Unique.Name();
            var created = await db.Users.CreateAsync(name, "Display " + name, Unique.Email(name), "hash-" + name, avatar, ct);
            Assert.Equal(DateTimeKind.Utc, created.CreatedAt.Kind);
            Assert.Equal(created, await db.Users.GetByIdAsync(created.Id, ct));
            Assert.Equal(created, await db.Users.GetByUsernameAsync(name, ct));
            Assert.Equal(created, await db.Users.GetByEmailAsync(Unique.Email(name), ct));
            Assert.Null(await db.Users.GetByIdAsync(Guid.NewGuid(), ct));

            var updated = await db.Users.UpdateProfileAsync(created.Id, "Renamed", Unique.Email(name + "x"), avatar is null ? "https://cdn.example.com/b.png" : null, ct);
            Assert.Equal(updated, await db.Users.GetByIdAsync(created.Id, ct));
            Assert.Equal(avatar is null ? "https://cdn.example.com/b.png" : null, updated.AvatarUrl);
            await db.Users.SetPasswordHashAsync(created.Id, "new-hash", ct);
            Assert.Equal("new-hash", (await db.Users.GetByIdAsync(created.Id, ct))!.PasswordHash);
        }
    }

    [Fact]
    public async Task PostingAgainAndAgainOnOnePooledConnectionKeepsTheStreakRules()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

        // One physical connection: every call reuses the statements prepared on it by the first one.
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { MaxPoolSize = 1 }.ConnectionString);
        var db = new StatusDatabase(dataSource, timeProvider: clock);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, ct);
        var day = new DateOnly(2026, 3, 1);
        StatusUpdateWithAuthor? last = null;
        for (var i = 0; i < 7; i++)
        {
            last = await db.StatusUpdates.PostAsync(user.Id, $"post {i}", "general", 5, day.AddDays(i / 2), ct);
            Assert.Equal(last, await db.StatusUpdates.GetByIdAsync(last.StatusUpdate.Id, ct));
        }

        Assert.Equal(35, last!.Author.Xp);
        Assert.Equal(4, last.Author.CurrentStreak);
        Assert.Equal(4, last.Author.LongestStreak);
        Assert.Equal(day.AddDays(3), last.Author.LastPostDate);
        Assert.Equal(last.Author, await db.Users.GetByIdAsync(user.Id, ct));
        Assert.Equal(clock.Now.UtcDateTime, last.StatusUpdate.CreatedAt);

        // A gap restarts the streak; the longest one stays.
        var later = await db.StatusUpdates.PostAsync(user.Id, "back", "general", 0, day.AddDays(10), ct);
        Assert.Equal((1, 4, 35), (later.Author.CurrentStreak, later.Author.LongestStreak, later.Author.Xp));
        Assert.True(await db.StatusUpdates.DeleteAsync(later.StatusUpdate.Id, ct));
        Assert.False(await db.StatusUpdates.DeleteAsync(later.StatusUpdate.Id, ct));
        Assert.Null(await db.StatusUpdates.GetByIdAsync(later.StatusUpdate.Id, ct));
    }

    [Fact]
    public async Task ErrorsStillBecomeStatusDataExceptions()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, ct);

        var duplicate = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, name, Unique.Email(Unique.Name()), "hash", null, ct));
        Assert.Equal("username", duplicate.Field);
        var other = Unique.Name();
        await db.Users.CreateAsync(other, other, Unique.Email(other), "hash", null, ct);
        var taken = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.UpdateProfileAsync(user.Id, "x", Unique.Email(other), null, ct));
        Assert.Equal("email", taken.Field);

        var missing = Guid.NewGuid();
        Assert.Equal(missing, (await Assert.ThrowsAsync<UserNotFoundException>(() => db.StatusUpdates.PostAsync(missing, "hi", "general", 1, null, ct))).UserId);
        await Assert.ThrowsAsync<UserNotFoundException>(() => db.Users.UpdateProfileAsync(missing, "x", Unique.Email(Unique.Name()), null, ct));
        await Assert.ThrowsAsync<UserNotFoundException>(() => db.Users.SetPasswordHashAsync(missing, "x", ct));
    }

    [Fact]
    public async Task InsideACallersTransactionTheStatementsCommitOrRollBackTogether()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var kept = Unique.Name();
        var dropped = Unique.Name();
        await using (var tx = await db.BeginTransactionAsync(ct))
        {
            var user = await tx.Users.CreateAsync(dropped, dropped, Unique.Email(dropped), "hash", null, ct);
            await tx.StatusUpdates.PostAsync(user.Id, "gone", "general", 1, null, ct);
            Assert.NotNull(await tx.Users.GetByIdAsync(user.Id, ct));
        }

        Assert.Null(await db.Users.GetByUsernameAsync(dropped, ct));

        await using (var tx = await db.BeginTransactionAsync(ct))
        {
            var user = await tx.Users.CreateAsync(kept, kept, Unique.Email(kept), "hash", null, ct);
            var posted = await tx.StatusUpdates.PostAsync(user.Id, "kept", "general", 3, null, ct);
            await tx.CommitAsync(ct);
            Assert.Equal(posted, await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, ct));
        }

        Assert.Equal(3, (await db.Users.GetByUsernameAsync(kept, ct))!.Xp);
    }
}
