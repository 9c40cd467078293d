using System.Globalization;
using Npgsql;
using StatusData.Testing;

namespace StatusData.TestSupport;

/// <summary>
/// Hands out fresh databases on one server. Databases at the latest schema come from the shipped
/// StatusData.Testing package (<see cref="StatusDataTestServer"/>: a template migrated once with the project's own
/// migrations, copied per database, the next copy made ahead), so this repository's tests run on what app developers
/// get. Empty databases, which only the migration tests need, are <c>CREATE DATABASE … TEMPLATE template0</c> here.
/// </summary>
public sealed class TestDatabases : IAsyncDisposable
{
    private readonly SemaphoreSlim _createGate = new(1, 1);
    private readonly List<string> _empty = [];
    private readonly List<StatusDataTestDatabase> _migrated = [];
    private readonly Lock _migratedLock = new();
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly StatusDataTestServer _testServer;
    private readonly bool _ownsTestServer;
    private int _counter;

    private TestDatabases(IPostgresServer server, StatusDataTestServer testServer, bool ownsTestServer)
    {
        Server = server;
        _testServer = testServer;
        _ownsTestServer = ownsTestServer;
    }

    /// <summary>The server the databases live on.</summary>
    public IPostgresServer Server { get; }

    /// <summary>
    /// Uses the StatusData.Testing server of a container it started (<see cref="ContainerPostgresServer"/>), or starts
    /// one on <paramref name="server"/>'s connection string (a throwaway or named server), which builds the template.
    /// </summary>
    /// <param name="server">A server where the user may create databases.</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    /// <returns>The factory.</returns>
    public static async Task<TestDatabases> CreateAsync(IPostgresServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server is ContainerPostgresServer container)
        {
            return new TestDatabases(server, container.TestServer, ownsTestServer: false);
        }

        var testServer = await StatusDataTestServer.StartAsync(new StatusDataTestServerOptions { ConnectionString = server.AdminConnectionString }, cancellationToken).ConfigureAwait(false);
        return new TestDatabases(server, testServer, ownsTestServer: true);
    }

    /// <summary>Creates a new database at the latest schema: StatusData.Testing's copy of its template.</summary>
    /// <param name="hint">Unused in the name (StatusData.Testing names its databases after host and process); kept for readable call sites.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <returns>The connection string of the new database.</returns>
    public async Task<string> CreateMigratedAsync(string hint, CancellationToken cancellationToken = default)
    {
        var database = await _testServer.CreateDatabaseAsync(cancellationToken).ConfigureAwait(false);
        lock (_migratedLock)
        {
            _migrated.Add(database);
        }

        // On the harness's own admin connection string, which asks for the server's error details (the tests check what
        // leaks into exceptions in that worst case); the package's container string does not.
        return ConnectionStringFor(database.Name);
    }

    /// <summary>Creates a new empty database (no migrations applied), for migration tests.</summary>
    /// <param name="hint">A readable part of the name, e.g. the test class.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <returns>The connection string of the new database.</returns>
    public async Task<string> CreateEmptyAsync(string hint, CancellationToken cancellationToken = default)
    {
        var safeHint = new string(hint.ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9')).Take(30).ToArray());
        var name = string.Create(CultureInfo.InvariantCulture, $"sd_{safeHint}_{Interlocked.Increment(ref _counter)}_{_runId}");

        // Serialized: concurrent copies of one template can fail with "source database is being accessed".
        await _createGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAdminAsync($"CREATE DATABASE {name} TEMPLATE template0", cancellationToken).ConfigureAwait(false);
            _empty.Add(name);
        }
        finally
        {
            _createGate.Release();
        }

        return ConnectionStringFor(name);
    }

    /// <summary>The connection string for a database on this server.</summary>
    /// <param name="database">The database name.</param>
    /// <returns>The connection string.</returns>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(Server.AdminConnectionString) { Database = database }.ConnectionString;

    /// <summary>Drops every database this factory created, and StatusData.Testing's template.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var database in _migrated)
        {
            await database.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsTestServer)
        {
            await _testServer.DisposeAsync().ConfigureAwait(false); // and its template; a container's goes with the container
        }

        foreach (var database in _empty)
        {
            try
            {
                await ExecuteAdminAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", CancellationToken.None).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Best effort: a throwaway server is deleted whole anyway.
            }
        }

        _createGate.Dispose();
    }

    // Database names are generated above from [a-z0-9_] only; identifiers cannot be parameters.
    private async Task ExecuteAdminAsync(string sql, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(Server.AdminConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
