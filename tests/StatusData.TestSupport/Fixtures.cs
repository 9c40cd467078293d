using Npgsql;
using Xunit;

namespace StatusData.TestSupport;

/// <summary>
/// Assembly fixture: register it with <c>[assembly: AssemblyFixture(typeof(PostgresServerFixture))]</c>
/// so the shared server stops, and its folder is deleted, when the test run ends.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    /// <inheritdoc />
    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await SharedPostgres.StopAsync().ConfigureAwait(false);
}

/// <summary>
/// Class fixture: each test class that takes it gets its own database at the latest schema, so test
/// classes run in parallel without seeing each other's rows.
/// </summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The database's connection string.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The database's name.</summary>
    public string DatabaseName => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    /// <summary>A data source for the database, disposed with the fixture.</summary>
    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The fixture is not initialized.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var databases = await SharedPostgres.GetAsync().ConfigureAwait(false);
        ConnectionString = await databases.CreateMigratedAsync("class").ConfigureAwait(false);
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
