using System.Globalization;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Co-ownership of the schema with the Python side's Alembic: which revision <c>alembic_version</c> should say
/// for what <c>version_info</c> records, what to do when the two disagree (Alembic went first, downgraded, or has
/// several heads), and the revision a baseline takes. Migrations marked <see cref="MirrorsAlembicRevisionAttribute"/>
/// keep alembic_version in step as they run (<see cref="AlembicVersionTable"/>).
/// </summary>
internal static class AlembicCoOwnership
{
    /// <summary>The newest applied migration that mirrors an Alembic revision: what alembic_version should say.</summary>
    public static KnownMigration? ExpectedMigration(MigrationCatalog catalog, DatabaseState state) =>
        catalog.Migrations.LastOrDefault(m => m.AlembicRevision is not null && state.Applied.ContainsKey(m.Version));

    /// <summary>
    /// When Alembic was downgraded behind our back: the version at or below which the record still holds
    /// (that of the migration mirroring the database's revision, 0 at base); <see cref="long.MaxValue"/> otherwise.
    /// </summary>
    public static long DowngradedBelow(MigrationCatalog catalog, DatabaseState state)
    {
        var expected = ExpectedMigration(catalog, state);
        if (expected is null || state.AlembicRevisions is not { Count: <= 1 } revisions)
        {
            return long.MaxValue;
        }

        var actual = revisions.Count == 0 ? null : catalog.FindByAlembicRevision(revisions[0]);
        return revisions.Count == 0 || (actual is not null && actual.Version < expected.Version) ? actual?.Version ?? 0 : long.MaxValue;
    }

    public static AlembicStatus Check(MigrationCatalog catalog, DatabaseState state)
    {
        var expected = ExpectedMigration(catalog, state);
        var revisions = state.AlembicRevisions ?? [];
        var status = new AlembicStatus(state.AlembicRevisions is not null, revisions, expected?.AlembicRevision, null);

        // No alembic_version table: Alembic was never run here (or the database predates mirroring); the next
        // locked run records the expected revision, so that is not a disagreement.
        if (state.AlembicRevisions is null || (revisions.Count == 0 && expected is null) || (revisions.Count == 1 && revisions[0] == expected?.AlembicRevision))
        {
            return status;
        }

        var said = $"alembic_version says {(revisions.Count == 0 ? "base (no revision)" : string.Join(", ", revisions))}, but version_info implies {(expected is null ? "base" : $"{expected.AlembicRevision} (migration {expected.Version})")}";
        var actual = revisions.Count == 1 ? catalog.FindByAlembicRevision(revisions[0]) : null;
        string problem;
        if (revisions.Count > 1)
        {
            problem = $"{said}: the Python side has several Alembic heads, and StatusData mirrors one line of revisions. Merge them on the Python side (alembic merge) and mirror the merge revision in a migration.";
        }
        else if (revisions.Count == 1 && actual is null)
        {
            problem = $"{said}: {revisions[0]} is an Alembic revision no migration of this build mirrors, so the Python side changed the schema in a way this build does not know. Deploy a build with a migration marked [MirrorsAlembicRevision(\"{revisions[0]}\")], then run up.";
        }
        else if (DowngradedBelow(catalog, state) is var below and not long.MaxValue)
        {
            problem = $"{said}: the Python side has downgraded, so what migrations after {(below == 0 ? "none" : below.ToString(CultureInfo.InvariantCulture))} created is probably gone although version_info records them. "
                + $"Either bring Alembic back (alembic upgrade {expected!.AlembicRevision}), or, if the downgrade was meant, remove the stale records so that up recreates the schema: DELETE FROM version_info WHERE version > {below};";
        }
        else
        {
            problem = $"{said}: the Python side applied {revisions[0]} (mirrored by migration {actual!.Version}) first. Adopt it with 'statusdata-migrate baseline' (the same as 'baseline {actual.Version}'): it verifies the schema and records the migrations up to {actual.Version} without running them; then run up.";
        }

        return status with { Disagreement = problem };
    }

    public static void RefuseDisagreement(MigrationCatalog catalog, DatabaseState state)
    {
        if (Check(catalog, state).Disagreement is { } problem)
        {
            throw new MigrationException(MigrationFailure.Refused, problem + " Nothing was changed.");
        }
    }

    /// <summary>The version a baseline without one takes: that of the migration mirroring alembic_version's revision.</summary>
    public static long BaselineVersion(MigrationCatalog catalog, DatabaseState state)
    {
        if (state.AlembicRevisions is [var revision] && catalog.FindByAlembicRevision(revision) is { } mirror)
        {
            return mirror.Version;
        }

        throw new MigrationException(
            MigrationFailure.InvalidRequest,
            state.AlembicRevisions is null or []
                ? "Cannot baseline without a version: the database has no Alembic revision to take it from. Give the version to baseline at, e.g. 'statusdata-migrate baseline 202602282200'."
                : $"Cannot baseline without a version: alembic_version says {string.Join(", ", state.AlembicRevisions)}, which no migration of this build mirrors. Deploy a build that mirrors it, or give the version.");
    }

    /// <summary>
    /// For a database without alembic_version (migrated before mirroring, or by a runner that did not keep it):
    /// the revision version_info implies, which the next locked run records; <see langword="null"/> if none is due.
    /// </summary>
    public static string? RevisionToStamp(MigrationCatalog catalog, DatabaseState state) =>
        state.AlembicRevisions is null ? ExpectedMigration(catalog, state)?.AlembicRevision : null;

    /// <summary>Creates alembic_version and records <paramref name="revision"/>: in <paramref name="transaction"/> if given, else at once.</summary>
    public static async Task StampAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string revision, CancellationToken cancellationToken)
    {
        using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(AlembicVersionTable.CreateSql),
                new NpgsqlBatchCommand("INSERT INTO alembic_version (version_num) VALUES ($1)") { Parameters = { new NpgsqlParameter<string> { TypedValue = revision } } },
            },
        };

        // Without a transaction, a batch runs as one implicit transaction.
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
