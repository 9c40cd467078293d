using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Baseline: records migrations as applied without running them, for a database whose schema something else
/// created (the Python side's Alembic, or a restore), after verifying that the schema is, fact by fact in the
/// catalog, what those migrations create. All in the migration lock's own transaction: verify, record, commit.
/// </summary>
internal static class Baseline
{
    /// <summary>Records every migration up to <paramref name="target"/> not yet recorded; returns how many. Commits the lock's transaction.</summary>
    public static async Task<int> RecordAsync(MigrationLock held, MigrationCatalog catalog, DatabaseState state, long target, CancellationToken cancellationToken)
    {
        var included = catalog.Migrations.Where(m => m.Version <= target).ToList();
        var toRecord = included.Where(m => !state.Applied.ContainsKey(m.Version)).ToList();
        if (state.Applied.Keys.Any(v => v > target) || toRecord.Count == 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: {VersionInfoTable.Name} already records {state.Applied.Count} applied migration(s), up to {state.CurrentVersion}. Baseline records migrations something else applied; nothing here is left to record that way. Use 'up' or 'down'.");
        }

        var implied = included.LastOrDefault(m => m.AlembicRevision is not null)?.AlembicRevision;
        if (state.AlembicRevisions is { } revisions && !(revisions.Count == 0 ? implied is null : revisions.Count == 1 && revisions[0] == implied))
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: alembic_version says {(revisions.Count == 0 ? "base" : string.Join(", ", revisions))}, but migrations up to {target} mirror {implied ?? "no revision"}. Run 'statusdata-migrate baseline' without a version to take the one alembic_version names. Nothing was recorded.");
        }

        var expected = catalog.UpSqlInSchema(included, SchemaComparison.ScratchSchema);
        var differences = await SchemaComparison.CompareAsync(held.Connection, expected, cancellationToken).ConfigureAwait(false);
        if (differences.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: the existing schema does not match what migrations up to {target} create. Nothing was recorded. Differences:"
                + Environment.NewLine + string.Join(Environment.NewLine, differences.Select(d => "  " + d)));
        }

        using (var create = new NpgsqlCommand(VersionInfoTable.CreateSql, held.Connection, held.Transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var migration in toRecord)
        {
            await VersionInfoTable.InsertAsync(held.Connection, migration.Version, migration.Description, migration.Checksum, cancellationToken).ConfigureAwait(false);
        }

        if (state.AlembicRevisions is null && implied is not null)
        {
            await AlembicCoOwnership.StampAsync(held.Connection, held.Transaction, implied, cancellationToken).ConfigureAwait(false);
        }

        await held.CommitAsync(cancellationToken).ConfigureAwait(false);
        return toRecord.Count;
    }
}
