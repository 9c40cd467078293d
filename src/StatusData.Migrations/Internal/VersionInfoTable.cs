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

/// <summary>
/// The checksums the runner before FluentMigrator recorded (SHA-256 of its hand-written SQL) for the two
/// migrations it shipped. Such a row means "applied with the same effect": the first locked run of the
/// FluentMigrator-based runner rewrites it to the FluentMigrator checksum, in one transaction.
/// </summary>
internal static class LegacyChecksums
{
    private static readonly Dictionary<long, string> ByVersion = new()
    {
        [202602282200] = "270b81d5040be54a0ce022ff7bf94e9a5337e5717044417c5b336b762114ea82",
        [202611220900] = "79aa5fa59d43c538772b483401e545bc8d1ffa5a5505f4975a525bba45ce97fc",
    };

    public static bool Matches(long version, string checksum) => ByVersion.TryGetValue(version, out var legacy) && legacy == checksum;

    /// <summary>Rewrites legacy checksums; returns how many rows it changed. Call under the migration lock.</summary>
    public static async Task<int> TakeOverAsync(NpgsqlDataSource dataSource, DatabaseState state, MigrationCatalog catalog, CancellationToken cancellationToken)
    {
        var legacy = state.Applied.Values
            .Where(row => Matches(row.Version, row.Checksum) && catalog.Find(row.Version) is { } known && known.Checksum != row.Checksum)
            .ToList();
        if (legacy.Count == 0)
        {
            return 0;
        }

        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        foreach (var row in legacy)
        {
            using var update = new NpgsqlCommand("UPDATE version_info SET checksum = $1 WHERE version = $2 AND checksum = $3", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = catalog.Find(row.Version)!.Checksum });
            update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.Version });
            update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Checksum });
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return legacy.Count;
    }
}
