using Npgsql;
using StatusData.Testing.Internal;

namespace StatusData.Testing;

/// <summary>
/// A fresh database at StatusData's latest schema, for one test or one test class: its connection string, an
/// <see cref="NpgsqlDataSource"/> and an <see cref="IStatusDatabase"/> over it. Dispose it to drop it.
/// </summary>
/// <example>
/// <code>
/// await using var db = await StatusDataTestDatabase.CreateAsync();
/// var user = await db.Database.Users.CreateAsync("ada", "Ada", "ada@example.com", "hash");
/// </code>
/// </example>
public sealed class StatusDataTestDatabase : IAsyncDisposable
{
    // Every table but the two version tables (FluentMigrator's and Alembic's), found in the catalog so that tables
    // a later migration adds are emptied too; one round trip, one TRUNCATE.
    private const string TruncateDataTables = """
        DO $$
        DECLARE
            tables text;
        BEGIN
            SELECT string_agg(format('%I.%I', schemaname, tablename), ', ')
              INTO tables
              FROM pg_tables
             WHERE schemaname = current_schema()
               AND tablename NOT IN ('version_info', 'alembic_version');
            IF tables IS NOT NULL THEN
                EXECUTE 'TRUNCATE TABLE ' || tables || ' RESTART IDENTITY CASCADE';
            END IF;
        END
        $$
        """;

    private readonly StatusDataTestServer _server;
    private int _disposed;

    internal StatusDataTestDatabase(StatusDataTestServer server, string name, string connectionString)
    {
        _server = server;
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
        Database = new StatusDatabase(DataSource);
    }

    /// <summary>The database's name, e.g. <c>sdt_1a2b3c4d_4242_1_7</c> (host, process, server, number).</summary>
    public string Name { get; }

    /// <summary>The database's connection string, e.g. for <c>services.AddStatusData(connectionString)</c> in the app under test.</summary>
    public string ConnectionString { get; }

    /// <summary>A data source for the database, owned (and disposed) by this object.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>StatusData over <see cref="DataSource"/>.</summary>
    public IStatusDatabase Database { get; }

    /// <summary>
    /// A fresh database on the process's shared server (<see cref="StatusDataTestServer.SharedAsync"/>): the first
    /// call starts the server and migrates the template; each call after that is a copy of it.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the server and the creation.</param>
    /// <returns>The database; dispose it to drop it.</returns>
    public static async Task<StatusDataTestDatabase> CreateAsync(CancellationToken cancellationToken = default)
    {
        var server = await StatusDataTestServer.SharedAsync(cancellationToken).ConfigureAwait(false);
        return await server.CreateDatabaseAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Empties every data table (<c>TRUNCATE … RESTART IDENTITY CASCADE</c>), keeping the schema and the version
    /// tables: between the tests of a class that share this database.
    /// </summary>
    /// <param name="cancellationToken">Cancels the reset.</param>
    /// <returns>A task that completes when the tables are empty.</returns>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        var command = DataSource.CreateCommand(TruncateDataTables);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Disposes <see cref="DataSource"/> and drops the database, ending any session still connected to it.</summary>
    /// <returns>A task that completes when the database is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await DataSource.DisposeAsync().ConfigureAwait(false);

        // Connections the app under test pooled under this connection string would only die with the database.
        DatabaseCommands.ClearPool(ConnectionString);
        await _server.DropDatabaseAsync(Name, CancellationToken.None).ConfigureAwait(false);
    }
}
