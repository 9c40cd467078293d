using Npgsql;

namespace StatusData.Migrations.Tests.Support;

/// <summary>
/// One fresh database (empty, or at the latest schema) on the shared test server, for one test, with
/// plain query helpers that read the database directly rather than through the runner.
/// </summary>
internal sealed class TestDb : IAsyncDisposable
{
    private TestDb(string connectionString)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>The database's connection string (trust authentication, no password).</summary>
    public string ConnectionString { get; }

    /// <summary>A data source the test owns; runners built by <see cref="Runner"/> use it.</summary>
    public NpgsqlDataSource DataSource { get; }

    public string DatabaseName => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    public static async Task<TestDb> CreateEmptyAsync(string hint, CancellationToken cancellationToken)
    {
        var databases = await SharedPostgres.GetAsync();
        return new TestDb(await databases.CreateEmptyAsync(hint, cancellationToken));
    }

    /// <summary>A fresh database at the latest schema, copied from the run's migrated template.</summary>
    public static async Task<TestDb> CreateMigratedAsync(string hint, CancellationToken cancellationToken)
    {
        var databases = await SharedPostgres.GetAsync();
        return new TestDb(await databases.CreateMigratedAsync(hint, cancellationToken));
    }

    public StatusDataMigrator Runner(StatusDataMigratorOptions? options = null) => new(ConnectionString, options);

    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<T> ScalarAsync<T>(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The first column of every row.</summary>
    public async Task<List<T>> ColumnAsync<T>(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var values = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    public Task<bool> TableExistsAsync(string name, CancellationToken cancellationToken) =>
        ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", cancellationToken, name);

    /// <summary>The rows of version_info ordered by version; empty when the table does not exist.</summary>
    public async Task<List<VersionRow>> VersionRowsAsync(CancellationToken cancellationToken)
    {
        var rows = new List<VersionRow>();
        if (!await TableExistsAsync("public.version_info", cancellationToken))
        {
            return rows;
        }

        await using var command = DataSource.CreateCommand("SELECT version, description, checksum, applied_on FROM public.version_info ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new VersionRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetDateTime(3)));
        }

        return rows;
    }

    /// <summary>(version, description) of each version_info row, ordered by version.</summary>
    public async Task<List<(long Version, string Description)>> VersionsAsync(CancellationToken cancellationToken) =>
        (await VersionRowsAsync(cancellationToken)).Select(r => (r.Version, r.Description)).ToList();

    public Task<List<string>> RelationsAsync(CancellationToken cancellationToken) => Catalog.RelationsAsync(DataSource, cancellationToken);

    public Task<List<string>> SnapshotAsync(CancellationToken cancellationToken) => Catalog.SnapshotAsync(DataSource, cancellationToken);

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

internal sealed record VersionRow(long Version, string Description, string Checksum, DateTime AppliedOn);
