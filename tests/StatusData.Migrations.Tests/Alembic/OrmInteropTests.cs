using System.Globalization;
using System.Text.Json;

namespace StatusData.Migrations.Tests.Alembic;

/// <summary>
/// Rows written by one side, read and deleted by the other: the library against the Python side's real
/// SQLAlchemy ORM (tests/PythonApp/orm_check.py), on a database StatusData migrated.
/// </summary>
public sealed class OrmInteropTests
{
    [Fact]
    public async Task TheOrmReadsWhatTheLibraryWroteWithItsLoadingStrategiesAndUtcAwareTimes()
    {
        await using var db = await MigratedAsync("ormreads");
        var library = new StatusDatabase(db.DataSource);
        var user = await library.Users.CreateAsync("zoe", "Zoë Ünal 🌻", "zoe@example.com", "hash", cancellationToken: Ct);
        var first = await library.StatusUpdates.PostAsync(user.Id, "Grüße aus Köln — 你好 🎉", "travel", xpAward: 10, cancellationToken: Ct);
        var second = await library.StatusUpdates.PostAsync(user.Id, "second", "work", xpAward: 5, cancellationToken: Ct);

        var read = await PythonApp.OrmAsync(db.ConnectionString, "read-user", user.Id.ToString());

        Assert.True(read.GetProperty("found").GetBoolean());
        Assert.Equal("Zoë Ünal 🌻", read.GetProperty("display_name").GetString());
        Assert.Equal(15, read.GetProperty("xp").GetInt32());
        Assert.Equal(1, read.GetProperty("current_streak").GetInt32());
        Assert.Equal(second.Author.LastPostDate!.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), read.GetProperty("last_post_date").GetString());
        Assert.Equal("selectin", read.GetProperty("loading").GetProperty("User.status_updates").GetString());
        Assert.Equal("joined", read.GetProperty("loading").GetProperty("StatusUpdate.user").GetString());
        Assert.Equal(0, read.GetProperty("utc_offset_seconds").GetDouble());
        Assert.Equal(user.CreatedAt, ParseUtc(read.GetProperty("created_at")));
        var updates = read.GetProperty("status_updates").EnumerateArray().ToList();
        Assert.Equal(
            [(first.StatusUpdate.Id.ToString(), "Grüße aus Köln — 你好 🎉", "travel", first.StatusUpdate.CreatedAt, "zoe"), (second.StatusUpdate.Id.ToString(), "second", "work", second.StatusUpdate.CreatedAt, "zoe")],
            updates.Select(u => (u.GetProperty("id").GetString(), u.GetProperty("message").GetString(), u.GetProperty("category").GetString(), ParseUtc(u.GetProperty("created_at")), u.GetProperty("user").GetString())));
    }

    [Fact]
    public async Task TheLibraryReadsWhatTheOrmWroteAndContinuesItsStreak()
    {
        await using var db = await MigratedAsync("libraryreads");
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var written = await PythonApp.OrmAsync(db.ConnectionString, "create-user", "py_user", today.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), "3");
        var id = Guid.Parse(written.GetProperty("id").GetString()!);
        var library = new StatusDatabase(db.DataSource);

        var user = await library.Users.GetByIdAsync(id, Ct);
        var posted = await library.StatusUpdates.PostAsync(id, "from .NET", "dotnet", xpAward: 2, day: today, cancellationToken: Ct);
        var withUpdates = await library.Users.GetWithStatusUpdatesAsync(id, Ct);

        Assert.Equal(4, written.GetProperty("id_version").GetInt32());
        Assert.NotNull(user);
        Assert.Equal(("py_user", "Written by Python", 5, 3, today.AddDays(-1)), (user.Username, user.DisplayName, user.Xp, user.CurrentStreak, user.LastPostDate));
        Assert.Equal(DateTimeKind.Utc, user.CreatedAt.Kind);
        Assert.InRange(user.CreatedAt, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
        Assert.Equal((4, 4, 7, today), (posted.Author.CurrentStreak, posted.Author.LongestStreak, posted.Author.Xp, posted.Author.LastPostDate));
        Assert.Contains(withUpdates!.StatusUpdates, u => u.Id == Guid.Parse(written.GetProperty("status_update_id").GetString()!) && u.Message == "from SQLAlchemy");
    }

    [Fact]
    public async Task AnOrmCascadeDeleteOfALibraryWrittenUserLeavesNoOrphans()
    {
        await using var db = await MigratedAsync("ormdeletes");
        var library = new StatusDatabase(db.DataSource);
        var user = await library.Users.CreateAsync("doomed", "Doomed", "doomed@example.com", "hash", cancellationToken: Ct);
        var other = await library.Users.CreateAsync("stays", "Stays", "stays@example.com", "hash", cancellationToken: Ct);
        await library.StatusUpdates.PostAsync(user.Id, "one", "a", xpAward: 1, cancellationToken: Ct);
        await library.StatusUpdates.PostAsync(user.Id, "two", "a", xpAward: 1, cancellationToken: Ct);
        await library.StatusUpdates.PostAsync(other.Id, "kept", "a", xpAward: 1, cancellationToken: Ct);

        await PythonApp.OrmAsync(db.ConnectionString, "delete-user", user.Id.ToString());

        Assert.Null(await library.Users.GetByIdAsync(user.Id, Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM status_updates s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL", Ct));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM status_updates", Ct));
    }

    [Fact]
    public async Task DeleteAsyncOfAnOrmWrittenUserLeavesNoOrphans()
    {
        await using var db = await MigratedAsync("librarydeletes");
        var written = await PythonApp.OrmAsync(db.ConnectionString, "create-user", "py_doomed", "2026-01-01", "1");
        var id = Guid.Parse(written.GetProperty("id").GetString()!);

        Assert.True(await new StatusDatabase(db.DataSource).Users.DeleteAsync(id, Ct));

        Assert.False((await PythonApp.OrmAsync(db.ConnectionString, "read-user", id.ToString())).GetProperty("found").GetBoolean());
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM status_updates", Ct));
    }

    private static async Task<TestDb> MigratedAsync(string hint)
    {
        var db = await TestDb.CreateEmptyAsync(hint, Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);
        return db;
    }

    // Python's isoformat keeps microseconds and the +00:00 offset; PostgreSQL stores microseconds too.
    private static DateTime ParseUtc(JsonElement value) =>
        DateTime.Parse(value.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
}
