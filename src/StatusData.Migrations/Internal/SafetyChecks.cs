using Microsoft.Extensions.Logging;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// The refusals a run makes under the migration lock, before its first write: versions unknown to the code,
/// drift (an applied migration whose SQL changed), tables that no runner manages, and Down steps that would
/// destroy data. Each throws <see cref="MigrationException"/> with <see cref="MigrationFailure.Refused"/>
/// saying what is wrong and what to do; nothing has changed when it does. (The rules a migration is checked
/// against before it ships are <see cref="MigrationRules"/>.)
/// </summary>
internal static class SafetyChecks
{
    /// <summary>Whether <paramref name="row"/> records <paramref name="migration"/> as the code has it now (or as an earlier runner recorded the same effect).</summary>
    public static bool Matches(KnownMigration migration, AppliedRow row) =>
        row.Checksum == migration.Checksum || LegacyChecksums.Matches(migration.Version, row.Checksum);

    public static void RefuseUnknownVersions(MigrationCatalog catalog, DatabaseState state)
    {
        var unknown = state.Applied.Keys.Where(v => catalog.Find(v) is null).Order().ToList();
        if (unknown.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"The database has applied version(s) {string.Join(", ", unknown)} that this build does not know (it knows up to {catalog.LatestVersion}): the database is ahead of the code. Deploy a build that includes them. Nothing was changed.");
        }
    }

    public static void RefuseDrift(MigrationCatalog catalog, DatabaseState state, bool allowed, ILogger logger)
    {
        var drifted = catalog.Migrations
            .Where(m => state.Applied.TryGetValue(m.Version, out var row) && !Matches(m, row))
            .ToList();
        if (drifted.Count == 0)
        {
            return;
        }

        var list = string.Join(", ", drifted.Select(m => $"{m.Version} ({m.Description})"));
        if (allowed)
        {
            Log.DriftAllowed(logger, list);
            return;
        }

        throw new MigrationException(
            MigrationFailure.Refused,
            $"Applied migration(s) {list} changed in the code after they were applied (checksum mismatch). Restore them and put the change in a new migration; if the change is known to be harmless, run with --allow-drift. Nothing was changed.");
    }

    /// <summary>Refuses to run a database's first migration when it already has tables: something else created them.</summary>
    public static async Task RefuseUnmanagedSchemaAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname NOT IN ('version_info', 'alembic_version')
            """;
        using var command = dataSource.CreateCommand(sql);
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string tables)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"The database already has tables ({tables}) but {VersionInfoTable.Name} records no migration, so no runner has managed it. "
                + "If the Python side's Alembic created it, adopt it with 'statusdata-migrate baseline 202602282200' (Alembic revision a1b2c3d4e5f6), which verifies the schema first. Nothing was changed.");
        }
    }

    /// <summary>
    /// Refuses a run whose Down steps would drop tables or columns that hold data, naming each with its count,
    /// before anything changes. The counts are taken under the migration lock, just before the run; rows the apps
    /// write between the count and the DROP are not counted (the window is the time to the step).
    /// </summary>
    public static async Task RefuseDataLossAsync(NpgsqlDataSource dataSource, MigrationCatalog catalog, IReadOnlyList<long> revert, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        // On a connection of its own, in autocommit: the lock's transaction must not keep the tables' locks.
        var connection = await ServerConnection.OpenAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        using (var setting = new NpgsqlCommand("SELECT set_config('lock_timeout', $1, false)", connection))
        {
            setting.Parameters.Add(new NpgsqlParameter<string> { TypedValue = LockTimeout.Setting(lockTimeout) });
            await setting.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var atStake = new List<string>();
        foreach (var version in revert)
        {
            var migration = catalog.Find(version)!;
            List<string> lost;
            try
            {
                lost = await DataLoss.AtStakeAsync(connection, DataLoss.OfDown(migration.Migration), cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                throw new MigrationException(
                    MigrationFailure.LockTimeout,
                    $"Timed out after {lockTimeout.TotalSeconds:0.#}s waiting for a lock to count the rows that reverting {version} would drop: a long transaction holds a table. Nothing was changed; run again when it has finished, or raise the lock timeout.",
                    e);
            }

            if (lost.Count > 0)
            {
                atStake.Add($"{version} ({migration.Description}): {string.Join("; ", lost)}");
            }
        }

        if (atStake.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                "Reverting would destroy data, so nothing was changed. "
                + string.Join(" ", atStake.Select(step => step.EndsWith('.') ? step : step + "."))
                + " Back the data up first; to revert anyway, run again with --allow-data-loss (API: StatusDataMigratorOptions.AllowDataLoss).");
        }
    }
}
