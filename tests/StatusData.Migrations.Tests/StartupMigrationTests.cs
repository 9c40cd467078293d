using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace StatusData.Migrations.Tests;

/// <summary>Migrate at startup from DI in one call, logging through the application's ILogger.</summary>
public sealed class StartupMigrationTests
{
    [Fact]
    public async Task AddStatusDataMigrationsThenMigrateStatusDataAsyncAppliesEverythingAndLogsThroughILogger()
    {
        await using var db = await TestDb.CreateEmptyAsync("startup", Ct);
        using var log = new FakeLoggerProvider();
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(log).SetMinimumLevel(LogLevel.Debug))
            .AddStatusDataMigrations(db.ConnectionString, options => options.LockTimeout = TimeSpan.FromSeconds(5))
            .BuildServiceProvider();

        var first = await services.MigrateStatusDataAsync(Ct);
        var second = await services.MigrateStatusDataAsync(Ct);

        Assert.Equal([Known.Initial, Known.KeysetIndexes], first.Steps.Select(s => s.Version));
        Assert.Empty(second.Steps);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Category == typeof(StatusDataMigrator).FullName && e.Level == LogLevel.Information && e.Message == "Applying migration 202602282200: initial users and status_updates");

        // FluentMigrator's own lines (its SQL among them) arrive at Debug level in the same category.
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Level == LogLevel.Debug && e.Message.StartsWith("FluentMigrator: CREATE TABLE \"public\".\"users\"", StringComparison.Ordinal));
        Assert.Same(services.GetRequiredService<StatusDataMigrator>(), services.GetRequiredService<StatusDataMigrator>());
    }
}
