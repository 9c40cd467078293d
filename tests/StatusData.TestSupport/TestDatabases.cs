using System.Globalization;
using Npgsql;
using StatusData.Migrations;

namespace StatusData.TestSupport;

/// <summary>
/// Hands out fresh databases on one server. A template database is migrated once with the project's
/// own migrations; every database after that is <c>CREATE DATABASE … TEMPLATE</c> of it, so each
/// costs milliseconds, starts at the latest schema, and every run exercises the migrations.
/// </summary>
public sealed class TestDatabases : IAsyncDisposable
{
    private readonly SemaphoreSlim _createGate = new(1, 1);
    private readonly List<string> _created = [];
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private int _counter;

    private TestDatabases(IPostgresServer server) => Server = server;

    /// <summary>The server the databases live on.</summary>
    public IPostgresServer Server { get; }

    /// <summary>The migrated template every test database is copied from.</summary>
    public string TemplateName => $"statusdata_tpl_{_runId}";

    /// <summary>Connects to <paramref name="server"/> and builds the template database with the migrations.</summary>
    /// <param name="server">A server where the user may create databases.</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    /// <returns>The factory.</returns>
    public static async Task<TestDatabases> CreateAsync(IPostgresServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        var databases = new TestDatabases(server);
        await databases.ExecuteAdminAsync($"CREATE DATABASE {databases.TemplateName}", cancellationToken).ConfigureAwait(false);
        databases._created.Add(databases.TemplateName);
        await new StatusDataMigrator(databases.ConnectionStringFor(databases.TemplateName)).UpAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

        // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
        NpgsqlConnection.ClearAllPools();
        return databases;
    }

    /// <summary>Creates a new database at the latest schema.</summary>
    /// <param name="hint">A readable part of the name, e.g. the test class.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <returns>The connection string of the new database.</returns>
    public Task<string> CreateMigratedAsync(string hint, CancellationToken cancellationToken = default) =>
        CreateAsync(hint, TemplateName, cancellationToken);

    /// <summary>Creates a new empty database (no migrations applied), for migration tests.</summary>
    /// <param name="hint">A readable part of the name, e.g. the test class.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <returns>The connection string of the new database.</returns>
    public Task<string> CreateEmptyAsync(string hint, CancellationToken cancellationToken = default) =>
        CreateAsync(hint, "template0", cancellationToken);

    /// <summary>The connection string for a database on this server.</summary>
    /// <param name="database">The database name.</param>
    /// <returns>The connection string.</returns>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(Server.AdminConnectionString) { Database = database }.ConnectionString;

    /// <summary>Drops every database this factory created.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var database in _created)
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

    private async Task<string> CreateAsync(string hint, string template, CancellationToken cancellationToken)
    {
        var safeHint = new string(hint.ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9')).Take(30).ToArray());
        var name = string.Create(CultureInfo.InvariantCulture, $"sd_{safeHint}_{Interlocked.Increment(ref _counter)}_{_runId}");

        // Serialized: concurrent copies of one template can fail with "source database is being accessed".
        await _createGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAdminAsync($"CREATE DATABASE {name} TEMPLATE {template}", cancellationToken).ConfigureAwait(false);
            _created.Add(name);
        }
        finally
        {
            _createGate.Release();
        }

        return ConnectionStringFor(name);
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
