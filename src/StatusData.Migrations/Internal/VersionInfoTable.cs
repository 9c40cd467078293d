using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// <c>version_info</c>: FluentMigrator's version table (its version, applied-on and description columns,
/// named through <c>IVersionTableMetaData</c>) plus the checksum StatusData's drift check compares.
/// </summary>
/// <remarks>
/// StatusData creates it, under the migration lock, right before the first migration runs: FluentMigrator
/// would create a table without the checksum, with a nullable <c>timestamp without time zone</c>
/// applied-on column and a unique index instead of a primary key. It is also the table the runner before
/// FluentMigrator created, so databases it migrated need no change of shape.
/// </remarks>
internal static class VersionInfoTable
{
    public const string Name = "version_info";

    public const string CreateSql = """
        CREATE TABLE IF NOT EXISTS version_info (
            version bigint NOT NULL,
            applied_on timestamp with time zone NOT NULL,
            description character varying(1024) NOT NULL,
            checksum character(64) NOT NULL,
            CONSTRAINT version_info_pkey PRIMARY KEY (version)
        )
        """;

    /// <summary>The same row FluentMigrator's version loader writes (see <c>FluentMigratorServices</c>), for baseline.</summary>
    public static async Task InsertAsync(NpgsqlConnection connection, long version, string description, string checksum, CancellationToken cancellationToken)
    {
        using var insert = new NpgsqlCommand(
            "INSERT INTO version_info (version, applied_on, description, checksum) VALUES ($1, now(), $2, $3)",
            connection);
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = description });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = checksum });
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

internal sealed record AppliedRow(long Version, string Description, DateTime AppliedOn, string Checksum);

/// <summary>
/// What <c>version_info</c> and Alembic's <c>alembic_version</c> record, read fresh (autocommit) from the
/// database. <see cref="AlembicRevisions"/> is null when there is no alembic_version table.
/// </summary>
internal sealed record DatabaseState(bool VersionTableExists, IReadOnlyDictionary<long, AppliedRow> Applied, IReadOnlyList<string>? AlembicRevisions)
{
    /// <summary>The highest applied version; 0 when none is.</summary>
    public long CurrentVersion => Applied.Count == 0 ? 0 : Applied.Keys.Max();

    public static async Task<DatabaseState> ReadAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var connection = await ServerConnection.OpenAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var applied = new Dictionary<long, AppliedRow>();
        var exists = await ExistsAsync(connection, "version_info", cancellationToken).ConfigureAwait(false);
        if (exists)
        {
            using var command = new NpgsqlCommand("SELECT version, description, applied_on, checksum FROM version_info ORDER BY version", connection);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var row = new AppliedRow(reader.GetInt64(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3));
                applied.Add(row.Version, row);
            }
        }

        List<string>? alembic = null;
        if (await ExistsAsync(connection, AlembicVersionTable.Name, cancellationToken).ConfigureAwait(false))
        {
            alembic = [];
            using var command = new NpgsqlCommand("SELECT version_num FROM alembic_version ORDER BY version_num", connection);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                alembic.Add(reader.GetString(0));
            }
        }

        return new DatabaseState(exists, applied, alembic);
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
