using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Checksums that earlier releases recorded for a migration whose effect has not changed since, only how it is
/// applied. Such a row means "applied with the same effect": it is not drift, and the first locked run rewrites it to
/// the current checksum, in one transaction, so that no database needs <c>--allow-drift</c> to move on.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The runner before FluentMigrator: SHA-256 of its hand-written SQL, for the two migrations it shipped.</item>
/// <item>202611220900 as FluentMigrator built it before concurrent builds: four plain CREATE INDEX in one
/// transaction. It now builds the same four indexes CONCURRENTLY outside a transaction; the indexes a database holds
/// are the same either way.</item>
/// </list>
/// </remarks>
internal static class LegacyChecksums
{
    private static readonly Dictionary<long, string[]> ByVersion = new()
    {
        [202602282200] = ["270b81d5040be54a0ce022ff7bf94e9a5337e5717044417c5b336b762114ea82"],
        [202611220900] = ["79aa5fa59d43c538772b483401e545bc8d1ffa5a5505f4975a525bba45ce97fc", "d892efb60eaf2b5ffd947a904468f3400b74dd0bdc46d7d1c3d51fec6e10d2e1"],
    };

    public static bool Matches(long version, string checksum) => ByVersion.TryGetValue(version, out var legacy) && legacy.Contains(checksum);

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
