using System.Globalization;
using Npgsql;

namespace StatusData.Tests.Mapping;

/// <summary>
/// Results do not depend on time zones: not on the database session's TimeZone (connection string
/// <c>Timezone=…</c>, including +05:30 and +13:45 zones), not on the offset the TimeProvider reports, and
/// not on the process's own time zone (TZ), which is checked in child processes: the test assembly
/// itself re-run under <c>TZ=America/New_York</c> (the CLI's <c>status</c> under several TZ values is in
/// StatusData.Migrations.Tests' CliTests).
/// </summary>
public sealed class TimeZoneTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private const string ProbeOutputVariable = "STATUSDATA_TZ_PROBE_OUTPUT";

    /// <summary>A quarter to midnight UTC: already the next day in Kolkata (+05:30) and Chatham (+13:45).</summary>
    private static readonly DateTimeOffset Start = new DateTimeOffset(2026, 3, 1, 23, 45, 30, TimeSpan.Zero).AddTicks(1_234_567);

    [Fact]
    public async Task TheSessionTimeZoneChangesNoInstantDateOrOrder()
    {
        var utc = await ObserveAsync("UTC", TimeSpan.Zero);
        Assert.Equal(ExpectedObservation, utc);
        foreach (var (zone, offset) in new[] { ("Asia/Kolkata", TimeSpan.FromHours(5.5)), ("Pacific/Chatham", new TimeSpan(13, 45, 0)), ("America/New_York", TimeSpan.FromHours(-5)) })
        {
            Assert.Equal(utc, await ObserveAsync(zone, offset));
        }
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

    /// <summary>
    /// Run in-process as a normal test; and by <see cref="TheProcessTimeZoneChangesNothing"/> in a child
    /// process with another TZ, where it writes what it observed to a file for the parent to compare.
    /// </summary>
    [Fact]
    public async Task ProcessTimeZoneProbe()
    {
        var observed = await ObserveAsync("UTC", TimeSpan.Zero);
        Assert.Equal(ExpectedObservation, observed);
        if (Environment.GetEnvironmentVariable(ProbeOutputVariable) is { Length: > 0 } output)
        {
            await File.WriteAllLinesAsync(output, [TimeZoneInfo.Local.Id, .. observed], Ct);
        }
    }

    [Fact]
    [Trait("Category", "Slow")] // re-runs a test in a child process
    public async Task TheProcessTimeZoneChangesNothing()
    {
        var zone = TimeZoneInfo.Local.Id == "America/New_York" ? "Asia/Kolkata" : "America/New_York";
        var output = Path.Combine(Path.GetTempPath(), $"statusdata-tz-probe-{Guid.NewGuid():N}.txt");
        try
        {
            await ChildTestRun.RunAsync<TimeZoneTests>(nameof(ProcessTimeZoneProbe), new()
            {
                ["TZ"] = zone,
                [ProbeOutputVariable] = output,
            });
            var lines = await File.ReadAllLinesAsync(output, Ct);
            Assert.Equal(zone, lines[0]); // the child really ran in the other zone
            Assert.Equal(await ObserveAsync("UTC", TimeSpan.Zero), lines[1..]);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static IReadOnlyList<string> ExpectedObservation =>
    [
        "user created_at=2026-03-01T23:45:30.1234560Z kind=Utc",
        "post first created_at=2026-03-01T23:45:30.1234560Z kind=Utc author.last_post_date=2026-03-01 streak=1/1 xp=10",
        "post second created_at=2026-03-02T00:45:30.1234560Z kind=Utc author.last_post_date=2026-03-02 streak=2/2 xp=20",
        "post third created_at=2026-03-02T00:45:31.1234560Z kind=Utc author.last_post_date=2026-03-02 streak=2/2 xp=30",
        "post fourth created_at=2026-03-03T23:45:31.1234560Z kind=Utc author.last_post_date=2026-03-03 streak=3/3 xp=40",
        "user last_post_date=2026-03-03 streak=3/3 xp=40 created_at=2026-03-01T23:45:30.1234560Z kind=Utc",
        "by user page 1: fourth@2026-03-03T23:45:31.1234560Z/Utc imported@2026-03-02T12:00:00.0000010Z/Utc",
        "by user page 2: third@2026-03-02T00:45:31.1234560Z/Utc second@2026-03-02T00:45:30.1234560Z/Utc",
        "by user page 3: first@2026-03-01T23:45:30.1234560Z/Utc",
        "feed page 1: fourth@2026-03-03T23:45:31.1234560Z/Utc imported@2026-03-02T12:00:00.0000010Z/Utc",
        "feed page 2: third@2026-03-02T00:45:31.1234560Z/Utc second@2026-03-02T00:45:30.1234560Z/Utc",
        "feed page 3: first@2026-03-01T23:45:30.1234560Z/Utc",
        "category page 1: fourth@2026-03-03T23:45:31.1234560Z/Utc imported@2026-03-02T12:00:00.0000010Z/Utc",
        "category page 2: third@2026-03-02T00:45:31.1234560Z/Utc second@2026-03-02T00:45:30.1234560Z/Utc",
        "category page 3: first@2026-03-01T23:45:30.1234560Z/Utc",
        "users page: 2026-03-01T23:45:30.1234560Z/Utc",
        "with updates: fourth imported third second first",
    ];

    /// <summary>
    /// One scenario through a data source whose session TimeZone is <paramref name="zone"/> and a clock
    /// that reports its time with <paramref name="clockOffset"/>; described without ids or names, so
    /// that runs in different zones and processes can be compared line by line.
    /// </summary>
    private async Task<List<string>> ObserveAsync(string zone, TimeSpan clockOffset)
    {
        // The feed is global: start from empty tables (this class's own database; its tests run one at a time).
        await Sql.ExecuteAsync(database.DataSource, "DELETE FROM status_updates; DELETE FROM users");
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        builder.ConnectionStringBuilder.Timezone = zone;
        await using var dataSource = builder.Build();
        Assert.Equal(zone, await Sql.ScalarAsync<string>(dataSource, "SHOW TimeZone"));

        var clock = new ManualClock(Start.ToOffset(clockOffset));
        var db = new StatusDatabase(dataSource, null, clock);
        var category = Unique.Name("tz");
        var observed = new List<string>();

        var user = await db.Users.CreateAsync(Unique.Name(), "Zoned", Unique.Email(Unique.Name()), "hash", null, Ct);
        observed.Add($"user created_at={Instant(user.CreatedAt)}");

        await PostAsync("first", null);
        clock.Advance(TimeSpan.FromHours(1));
        await PostAsync("second", null);
        clock.Advance(TimeSpan.FromSeconds(1));
        await PostAsync("third", new DateOnly(2026, 3, 2));
        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromHours(23));
        await PostAsync("fourth", null);
        Assert.Equal(1, await db.StatusUpdates.ImportAsync([new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported", category, new DateTime(2026, 3, 2, 12, 0, 0, DateTimeKind.Utc).AddTicks(10))], Ct));

        var stored = (await db.Users.GetByIdAsync(user.Id, Ct))!;
        observed.Add($"user last_post_date={stored.LastPostDate:yyyy-MM-dd} streak={stored.CurrentStreak}/{stored.LongestStreak} xp={stored.Xp} created_at={Instant(stored.CreatedAt)}");

        await PagesAsync("by user", after => db.StatusUpdates.ListByUserAsync(user.Id, 2, after, Ct));
        await PagesAsync("feed", async after =>
        {
            var page = await db.StatusUpdates.GetFeedAsync(2, after, Ct);
            return new Page<StatusUpdate>(page.Items.Select(i => i.StatusUpdate).ToList(), page.Next);
        });
        await PagesAsync("category", after => db.StatusUpdates.ListByCategoryAsync(category, 2, after, Ct));

        var users = await db.Users.ListAsync(1000, new PageCursor(user.CreatedAt.AddTicks(-10), Guid.Empty), Ct);
        observed.Add("users page: " + string.Join(' ', users.Items.Where(u => u.Id == user.Id).Select(u => Instant(u.CreatedAt).Replace(" kind=", "/", StringComparison.Ordinal))));
        var withUpdates = (await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct))!;
        observed.Add("with updates: " + string.Join(' ', withUpdates.StatusUpdates.Select(s => s.Message)));
        return observed;

        async Task PostAsync(string message, DateOnly? day)
        {
            var posted = await db.StatusUpdates.PostAsync(user.Id, message, category, 10, day, Ct);
            var author = posted.Author;
            observed.Add($"post {message} created_at={Instant(posted.StatusUpdate.CreatedAt)} author.last_post_date={author.LastPostDate:yyyy-MM-dd} streak={author.CurrentStreak}/{author.LongestStreak} xp={author.Xp}");
            Assert.Equal(posted.StatusUpdate, (await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct))!.StatusUpdate);
        }

        async Task PagesAsync(string name, Func<PageCursor?, Task<Page<StatusUpdate>>> list)
        {
            PageCursor? after = null;
            for (var number = 1; ; number++)
            {
                var page = await list(after);
                observed.Add($"{name} page {number}: " + string.Join(' ', page.Items.Select(s => $"{s.Message}@{s.CreatedAt.ToString("O", CultureInfo.InvariantCulture)}/{s.CreatedAt.Kind}")));
                if (page.Next is not { } next)
                {
                    break;
                }

                after = next;
            }
        }
    }

    private static string Instant(DateTime value) =>
        $"{value.ToString("O", CultureInfo.InvariantCulture)} kind={value.Kind}";
}
