using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace StatusData.Migrations.Tests;

/// <summary>Migrate at startup from DI in one call, logging through the application's ILogger.</summary>
public sealed class StartupMigrationTests
{
    [Fact]
    public async Task AddStatusDataMigrationsThenMigrateStatusDataAsyncAppliesEverythingAndLogsThroughILogger()
    {
        await using var db = await TestDb.CreateEmptyAsync("startup", Ct);
        var log = new ListLoggerProvider();
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(log).SetMinimumLevel(LogLevel.Debug))
            .AddStatusDataMigrations(db.ConnectionString, options => options.LockTimeout = TimeSpan.FromSeconds(5))
            .BuildServiceProvider();

        var first = await services.MigrateStatusDataAsync(Ct);
        var second = await services.MigrateStatusDataAsync(Ct);

        Assert.Equal([Known.Initial, Known.KeysetIndexes], first.Steps.Select(s => s.Version));
        Assert.Empty(second.Steps);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Contains(log.Entries, e => e.Category == typeof(StatusDataMigrator).FullName && e.Level == LogLevel.Information && e.Message == "Applying migration 202602282200: initial users and status_updates");

        // FluentMigrator's own lines (its SQL among them) arrive at Debug level in the same category.
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Debug && e.Message.StartsWith("FluentMigrator: CREATE TABLE \"public\".\"users\"", StringComparison.Ordinal));
        Assert.Same(services.GetRequiredService<StatusDataMigrator>(), services.GetRequiredService<StatusDataMigrator>());
    }

    private sealed class ListLoggerProvider : ILoggerProvider
    {
        public List<(string Category, LogLevel Level, string Message)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class ListLogger(ListLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (provider.Entries)
                {
                    provider.Entries.Add((category, logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
