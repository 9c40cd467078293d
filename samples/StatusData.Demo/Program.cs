using Npgsql;
using StatusData.Migrations;
using StatusData.TestSupport;

// With STATUSDATA_CONNECTION set, the demo works on that database; otherwise on a throwaway
// local PostgreSQL that is deleted when the demo ends.
var connectionString = Environment.GetEnvironmentVariable("STATUSDATA_CONNECTION");
IPostgresServer? throwaway = null;
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.WriteLine("No STATUSDATA_CONNECTION: starting a throwaway PostgreSQL...");
    throwaway = await PostgresServers.StartAsync("STATUSDATA_CONNECTION");
    connectionString = throwaway.AdminConnectionString;
    Console.WriteLine($"  {throwaway.Description}");
}

try
{
    await using var dataSource = NpgsqlDataSource.Create(connectionString);
    var runner = new MigrationRunner(dataSource);

    Console.WriteLine();
    Console.WriteLine("Migrating to the latest version...");
    var result = await runner.UpAsync();
    foreach (var step in result.Steps)
    {
        Console.WriteLine($"  applied {step.Version}  {step.Description}  ({step.Duration.TotalMilliseconds:0} ms)");
    }

    Console.WriteLine($"  database is at version {result.CurrentVersion}");
    Console.WriteLine();
    Console.WriteLine("Migration status:");
    foreach (var status in await runner.GetStatusAsync())
    {
        Console.WriteLine($"  {status.Version}  {status.State,-8}  {status.AppliedOn:yyyy-MM-dd HH:mm:ss}  {status.Description}");
    }
}
finally
{
    NpgsqlConnection.ClearAllPools();
    if (throwaway is not null)
    {
        await throwaway.DisposeAsync();
        Console.WriteLine();
        Console.WriteLine("Throwaway PostgreSQL stopped and deleted.");
    }
}
