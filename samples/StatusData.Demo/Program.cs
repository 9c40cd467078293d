using System.Globalization;
using Npgsql;
using StatusData;
using StatusData.Demo;
using StatusData.Migrations;

// Works on the database STATUSDATA_CONNECTION names; scripts/demo.sh points it at a throwaway local
// PostgreSQL (and deletes that afterwards) when you have not set it.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var connectionString = Environment.GetEnvironmentVariable("STATUSDATA_CONNECTION");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("STATUSDATA_CONNECTION is not set. Run scripts/demo.sh, which starts a throwaway PostgreSQL, or set it to a database of yours.");
    return 2;
}

// Npgsql prepares the statements StatusData runs once they repeat (Dapper prepares nothing itself; docs/library.md).
await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32 });

Console.WriteLine();
Console.WriteLine("1. Migrating to the latest version");
var runner = new StatusDataMigrator(connectionString);
var migrated = await runner.UpAsync();
foreach (var step in migrated.Steps)
{
    Console.WriteLine($"   applied {step.Version}  {step.Description}  ({step.Duration.TotalMilliseconds:0} ms)");
}

Console.WriteLine($"   database is at version {migrated.CurrentVersion}");

// A simulated clock: the scenario spans days without waiting for them.
var clock = new SimulatedClock(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));
var db = new StatusDatabase(dataSource, timeProvider: clock);
var run = Guid.NewGuid().ToString("N")[..6]; // lets the demo run repeatedly against your own database

Console.WriteLine();
Console.WriteLine("2. Creating users");
var ada = await db.Users.CreateAsync($"ada_{run}", "Ada", $"ada_{run}@example.com", PasswordHashing.Hash("correct horse"));
var linus = await db.Users.CreateAsync($"linus_{run}", "Linus", $"linus_{run}@example.com", PasswordHashing.Hash("battery staple"));
Console.WriteLine($"   {ada.Username} ({ada.Id})");
Console.WriteLine($"   {linus.Username} ({linus.Id})");
var stored = await db.Users.GetByUsernameAsync(ada.Username);
Console.WriteLine($"   {ada.Username} signs in with 'correct horse': {(PasswordHashing.Verify("correct horse", stored!.PasswordHash) ? "password verified" : "password REJECTED")}");
try
{
    await db.Users.CreateAsync($"ada_{run}", "Another Ada", $"other_{run}@example.com", PasswordHashing.Hash("x"));
}
catch (DuplicateValueException e)
{
    Console.WriteLine($"   a second '{ada.Username}' is refused: {e.Message}");
}

Console.WriteLine();
Console.WriteLine("3. Posting over simulated days (10 XP a post)");
string[] adaDays = ["03-01", "03-02", "03-02", "03-03", "03-04", "03-06", "03-07"];
string[] linusDays = ["03-01", "03-03", "03-04"];
foreach (var (user, days) in new[] { (ada, adaDays), (linus, linusDays) })
{
    foreach (var day in days)
    {
        var date = DateOnly.ParseExact("2026-" + day, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        clock.Now = new DateTimeOffset(date.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero).AddMinutes(clock.Tick());
        var posted = await db.StatusUpdates.PostAsync(user.Id, $"{user.DisplayName} on {date:MMM d}", day == "03-06" ? "travel" : "work", xpAward: 10);
        Console.WriteLine($"   {date:yyyy-MM-dd}  {posted.Author.Username,-12} xp {posted.Author.Xp,3}  streak {posted.Author.CurrentStreak}  longest {posted.Author.LongestStreak}");
    }
}

Console.WriteLine("   (Ada's streak grows to 4, breaks on Mar 5, restarts; her longest stays 4)");

Console.WriteLine();
Console.WriteLine("4. Leaderboard");
foreach (var (user, rank) in (await db.Users.GetLeaderboardAsync(5)).Select((u, i) => (u, i + 1)))
{
    Console.WriteLine($"   #{rank} {user.Username,-12} {user.Xp,3} XP  longest streak {user.LongestStreak}");
}

Console.WriteLine();
Console.WriteLine("5. The feed, newest first, 4 per page");
var page = await db.StatusUpdates.GetFeedAsync(limit: 4);
for (var number = 1; number <= 2; number++)
{
    Console.WriteLine($"   page {number}:");
    foreach (var item in page.Items)
    {
        Console.WriteLine($"     {item.StatusUpdate.CreatedAt:yyyy-MM-dd HH:mm}  {item.Author.DisplayName,-6} [{item.StatusUpdate.Category}] {item.StatusUpdate.Message}");
    }

    if (page.Next is null)
    {
        break;
    }

    page = await db.StatusUpdates.GetFeedAsync(limit: 4, after: page.Next);
}

Console.WriteLine();
Console.WriteLine("6. One user with all their updates (two queries, one round trip)");
var withUpdates = await db.Users.GetWithStatusUpdatesAsync(linus.Id);
Console.WriteLine($"   {withUpdates!.User}");
foreach (var update in withUpdates.StatusUpdates)
{
    Console.WriteLine($"     {update.CreatedAt:yyyy-MM-dd HH:mm}  {update.Message}");
}

Console.WriteLine();
Console.WriteLine("7. Migration status");
foreach (var status in await runner.GetStatusAsync())
{
    Console.WriteLine($"   {status.Version}  {status.State,-8}  {status.AppliedOn:yyyy-MM-dd HH:mm:ss}  {status.Description}");
}

return 0;
