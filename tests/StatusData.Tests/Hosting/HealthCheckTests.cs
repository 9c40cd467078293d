using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.Hosting;

/// <summary><c>services.AddHealthChecks().AddStatusData()</c> against real servers: migrated, behind, empty, stopped, silent.</summary>
public sealed class HealthCheckTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task AMigratedDatabaseIsHealthyThroughTheHealthCheckService()
    {
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddStatusData(database.ConnectionString)
            .AddHealthChecks().AddStatusData(tags: ["ready"]).Services
            .BuildServiceProvider();

        var report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);

        Assert.Equal(HealthStatus.Healthy, report.Status);
        var entry = report.Entries["statusdata"];
        Assert.Equal("Schema at 202611220900; StatusData needs 202611220900.", entry.Description);
        Assert.Contains("ready", entry.Tags);
        Assert.Equal(StatusDataHealthCheck.RequiredSchemaVersion, new StatusDataMigrator(database.ConnectionString).LatestVersion);
    }

    [Fact]
    public async Task ASchemaBehindTheLibraryIsUnhealthyNamingBothVersions()
    {
        var connectionString = await (await SharedPostgres.GetAsync()).CreateEmptyAsync("healthbehind", Ct);
        await new StatusDataMigrator(connectionString).UpAsync(202602282200, Ct);

        var result = await CheckAsync(connectionString, HealthStatus.Unhealthy);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("Schema at 202602282200, behind the 202611220900 StatusData needs. Run statusdata-migrate up.", result.Description);
        Assert.Equal(202602282200L, result.Data["schema_version"]);
    }

    [Fact]
    public async Task AnUnmigratedDatabaseReportsTheConfiguredFailureStatusAndWhatToDo()
    {
        var connectionString = await (await SharedPostgres.GetAsync()).CreateEmptyAsync("healthempty", Ct);

        var result = await CheckAsync(connectionString, HealthStatus.Degraded);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Equal("The database has no migrated schema (no version_info); StatusData needs 202611220900. Run statusdata-migrate up (or baseline).", result.Description);
    }

    [Fact]
    public async Task AStoppedServerIsUnhealthyAtOnce()
    {
        // A port that was free a moment ago: nothing listens on it.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var result = await CheckAsync($"Host=127.0.0.1;Port={port};Username=postgres;Pooling=false", HealthStatus.Unhealthy);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("The database cannot be reached: ", result.Description, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(result.Exception);
    }

    [Fact]
    [Trait("Category", "Slow")] // waits out the one-second timeout
    public async Task AServerThatDoesNotAnswerIsUnhealthyAfterTheTimeout()
    {
        // Accepts the connection and never says a word, like a hung server or a black-holed network.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var started = Stopwatch.StartNew();

        await using var services = new ServiceCollection()
            .AddLogging()
            .AddStatusData($"Host=127.0.0.1;Port={port};Username=postgres;Pooling=false;Timeout=30")
            .AddHealthChecks().AddStatusData(timeout: TimeSpan.FromSeconds(1)).Services
            .BuildServiceProvider();

        var report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Equal("The database did not answer within 1 s.", report.Entries["statusdata"].Description);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
    }

    private static async Task<HealthCheckResult> CheckAsync(string connectionString, HealthStatus failureStatus)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var check = new StatusDataHealthCheck(dataSource, TimeSpan.FromSeconds(5));
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("statusdata", check, failureStatus, null) };
        return await check.CheckHealthAsync(context, Ct);
    }
}
