using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace StatusData.Tests.Hosting;

public sealed class DependencyInjectionTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task AddStatusDataFromAConnectionStringRegistersWorkingSingletons()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection()
            .AddSingleton<TimeProvider>(clock)
            .AddStatusData(database.ConnectionString, o => o.MaxMessageLength = 100);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        provider.GetRequiredService<IStartupValidator>().Validate();

        var users = provider.GetRequiredService<IUserRepository>();
        var statusUpdates = provider.GetRequiredService<IStatusUpdateRepository>();
        Assert.Same(provider.GetRequiredService<IStatusDatabase>().Users, users);

        var name = Unique.Name();
        var user = await users.CreateAsync(name, "DI", Unique.Email(name), "hash", null, Ct);
        Assert.Equal(clock.Now.UtcDateTime, user.CreatedAt); // the registered TimeProvider is used
        await Assert.ThrowsAsync<ArgumentException>(() => statusUpdates.PostAsync(user.Id, new string('x', 101), "c", 1, null, Ct)); // options applied
        Assert.Equal(1, (await statusUpdates.PostAsync(user.Id, "ok", "c", 1, null, Ct)).Author.Xp);
    }

    [Fact]
    public async Task AddStatusDataOverAnExistingDataSourceLeavesItOpenWhenTheContainerIsDisposed()
    {
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await using (var provider = new ServiceCollection().AddStatusData(dataSource).BuildServiceProvider())
        {
            Assert.Null(await provider.GetRequiredService<IUserRepository>().GetByIdAsync(Guid.NewGuid(), Ct));
        }

        await using var command = dataSource.CreateCommand("SELECT 1");
        Assert.Equal(1, await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public void AMalformedConnectionStringFailsAtRegistration()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddStatusData("Host=x;NoSuchKeyword=1"));
        Assert.Equal("connectionString", error.ParamName);
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddStatusData("  "));
    }

    [Fact]
    public void InvalidOptionsFailAtStartupValidation()
    {
        using var provider = new ServiceCollection()
            .AddStatusData(database.ConnectionString, o => o.MaxMessageLength = 0)
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("MaxMessageLength", error.Message, StringComparison.Ordinal);
        Assert.Contains("Actual value was 0.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDataSourceStatusDataBuildsIsTheAppsTooAndPreparesStatusDatasStatementsOnTheServer()
    {
        await using var provider = new ServiceCollection().AddStatusData(database.ConnectionString).BuildServiceProvider();
        var dataSource = provider.GetRequiredKeyedService<NpgsqlDataSource>(StatusDataServiceCollectionExtensions.DataSourceKey);
        Assert.Same(((StatusDatabase)provider.GetRequiredService<IStatusDatabase>()).DataSource, dataSource);
        Assert.Equal(32, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxAutoPrepare);

        // Npgsql prepares a statement once it has run a few times on a connection (Auto Prepare Min Usages, 5).
        var users = provider.GetRequiredService<IUserRepository>();
        for (var i = 0; i < 6; i++)
        {
            await users.GetByIdAsync(Guid.NewGuid(), Ct);
        }

        await using var connection = await dataSource.OpenConnectionAsync(Ct); // the one pooled connection those calls used
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM users WHERE id = $1%'", connection);
        Assert.Equal(1L, await command.ExecuteScalarAsync(Ct));
    }

    [Theory]
    [InlineData("Max Auto Prepare=0", true)]
    [InlineData("Max Auto Prepare=7", true)]
    [InlineData("", false)]
    public async Task AutomaticPreparationIsLeftToTheConnectionStringWhenItSaysOrPrepareStatementsIsOff(string setting, bool prepareStatements)
    {
        var connectionString = $"{database.ConnectionString};{setting}".TrimEnd(';');
        await using var provider = new ServiceCollection().AddStatusData(connectionString, o => o.PrepareStatements = prepareStatements).BuildServiceProvider();
        var expected = new NpgsqlConnectionStringBuilder(connectionString).MaxAutoPrepare;
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(provider.GetRequiredKeyedService<NpgsqlDataSource>(StatusDataServiceCollectionExtensions.DataSourceKey).ConnectionString).MaxAutoPrepare);
        Assert.Null(await provider.GetRequiredService<IUserRepository>().GetByIdAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>After a failover Npgsql keeps the new primary for a standby for Host Recheck Seconds: 1, not 10, unless the string says.</summary>
    [Theory]
    [InlineData("Host=db1,db2", 1)]
    [InlineData("Host=db1,db2;Host Recheck Seconds=7", 7)]
    [InlineData("Host=db1", 10)]
    public async Task AMultiHostConnectionStringGetsAOneSecondHostRecheckUnlessItSetsOne(string connectionString, int expected)
    {
        await using var provider = new ServiceCollection().AddStatusData(connectionString + ";Username=app;Database=app").BuildServiceProvider();
        var dataSource = provider.GetRequiredKeyedService<NpgsqlDataSource>(StatusDataServiceCollectionExtensions.DataSourceKey);
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).HostRecheckSeconds);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnNpgsqlDataSourceTheAppRegisteredStaysTheAppsInEitherOrderAndStatusDataKeepsItsOwn(bool appFirst)
    {
        await using var appDataSource = NpgsqlDataSource.Create(database.ConnectionString + ";Application Name=app");
        var services = new ServiceCollection();
        if (appFirst)
        {
            services.TryAddSingleton(appDataSource); // as Npgsql.DependencyInjection's AddNpgsqlDataSource does: TryAdd
        }

        services.AddStatusData(database.ConnectionString);
        if (!appFirst)
        {
            services.TryAddSingleton(appDataSource);
        }

        await using var provider = services.BuildServiceProvider();
        Assert.Same(appDataSource, provider.GetRequiredService<NpgsqlDataSource>());
        var statusData = ((StatusDatabase)provider.GetRequiredService<IStatusDatabase>()).DataSource;
        Assert.NotSame(appDataSource, statusData);
        Assert.Same(statusData, provider.GetRequiredKeyedService<NpgsqlDataSource>(StatusDataServiceCollectionExtensions.DataSourceKey));
        Assert.Null(await provider.GetRequiredService<IUserRepository>().GetByIdAsync(Guid.NewGuid(), Ct));
    }
}
