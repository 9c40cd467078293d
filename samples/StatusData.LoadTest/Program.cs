// Measures the limits docs/scaling.md quotes, on one PostgreSQL server:
//   scripts/loadtest.sh [seconds per phase, default 10]
// on the database STATUSDATA_LOADTEST_CONNECTION names, migrated first. The script points it at a throwaway
// local server when it is not set (fsync, synchronous_commit and full_page_writes off, like the tests'
// servers: the write numbers are an upper bound for a durable server). Not STATUSDATA_CONNECTION: that one
// names the database deployments migrate, and this writes some 100,000 rows.
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using StatusData;
using StatusData.Migrations;

var connectionString = Environment.GetEnvironmentVariable("STATUSDATA_LOADTEST_CONNECTION");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("STATUSDATA_LOADTEST_CONNECTION is not set. Run scripts/loadtest.sh, which starts a throwaway PostgreSQL, or set it to a scratch database of yours.");
    return 2;
}

var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
var phase = TimeSpan.FromSeconds(seconds);
const int Workers = 8;
const int ImportRows = 100_000;

await new StatusDataMigrator(connectionString).UpAsync();
// Npgsql prepares the statements StatusData runs once they repeat (Dapper prepares nothing itself; docs/library.md).
await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32 });
var db = new StatusDatabase(dataSource);
var run = Guid.NewGuid().ToString("N")[..6]; // usernames are unique: lets the load test run again on the same database

var target = new NpgsqlConnectionStringBuilder(connectionString);
Console.WriteLine($"server: PostgreSQL {await ServerVersionAsync()} on {target.Host}:{target.Port}, database {target.Database}; {Environment.ProcessorCount} cores; load average {LoadAverage()}; {Workers} workers; {seconds} s per phase");

var users = new List<User>();
for (var i = 0; i < Workers; i++)
{
    var name = $"load{i}_{run}";
    users.Add(await db.Users.CreateAsync(name, "Load", $"{name}@example.com", "hash"));
}

Report("posts/s, 8 writers, 8 distinct users", await RunAsync(w => db.StatusUpdates.PostAsync(users[w].Id, "load", "load", 1)));
Report("posts/s, 8 writers, one user", await RunAsync(_ => db.StatusUpdates.PostAsync(users[0].Id, "load", "load", 1)));
Report("feed page 1 (50 rows) reads/s, 8 readers", await RunAsync(_ => db.StatusUpdates.GetFeedAsync(50)));

var start = DateTime.UtcNow.AddDays(-30);
var rows = Enumerable.Range(0, ImportRows)
    .Select(i => new StatusUpdate(Guid.CreateVersion7(), users[i % Workers].Id, "imported", "import", start.AddSeconds(i)))
    .ToList();
var clock = Stopwatch.StartNew();
var imported = await db.StatusUpdates.ImportAsync(rows);
clock.Stop();
Report($"ImportAsync rows/s ({imported:N0} rows in {clock.Elapsed.TotalSeconds:F1} s)", imported / clock.Elapsed.TotalSeconds);
Console.WriteLine($"load average at the end: {LoadAverage()}");
return 0;

async Task<double> RunAsync(Func<int, Task> operation)
{
    long done = 0;
    using var stop = new CancellationTokenSource(phase);
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            await operation(w);
            Interlocked.Increment(ref done);
        }
    })));
    return done / watch.Elapsed.TotalSeconds;
}

async Task<string> ServerVersionAsync()
{
    await using var command = dataSource.CreateCommand("SHOW server_version");
    return (string)(await command.ExecuteScalarAsync())!;
}

static void Report(string what, double perSecond) => Console.WriteLine($"| {what} | {perSecond.ToString("N0", CultureInfo.InvariantCulture)} |");

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
