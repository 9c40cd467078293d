namespace StatusData.Migrations.Internal;

/// <summary>
/// <c>statusdata-migrate plan</c>: for each pending migration, its statements as FluentMigrator renders them, whether
/// it runs in a transaction, the lock each statement takes (<see cref="LockImpact"/>) and the rules it breaks
/// (<see cref="MigrationRules"/>). Renders only; nothing runs.
/// </summary>
internal static class MigrationPlanner
{
    // FluentMigrator's version loader writes the version row (and alembic_version's, see AlembicVersionTable) itself,
    // not as a migration expression: its locks are stated here.
    private const string RowLocksOnly = "row locks on the rows it writes only; reads and writes go on";

    public static MigrationPlan Plan(MigrationCatalog catalog, IReadOnlyList<KnownMigration> pending, long currentVersion, long targetVersion) =>
        new(
            catalog.Plan(pending)
                .Select(p => new PlannedMigration(
                    p.Migration.Version,
                    p.Migration.Description,
                    p.Migration.InTransaction,
                    [
                        .. p.Steps.Select(step => new PlannedStatement(step.Sql, step.Locks.Select(l => new PlannedLock(l.Mode, l.Table, l.Effect)).ToList())),
                        new PlannedStatement(string.Join(";\n", p.VersionRow), VersionRowLocks(p.Migration)),
                    ],
                    MigrationRules.Check(p.Migration.Version, p.Migration.Migration).Select(v => v.ToString()).ToList()))
                .ToList(),
            currentVersion,
            targetVersion);

    private static List<PlannedLock> VersionRowLocks(KnownMigration migration)
    {
        List<PlannedLock> locks = [new(LockImpact.RowExclusive, VersionInfoTable.Name, "adds its row to version_info; " + RowLocksOnly)];
        if (migration.AlembicRevision is not null)
        {
            locks.Add(new(LockImpact.RowExclusive, AlembicVersionTable.Name, $"records Alembic revision {migration.AlembicRevision} in alembic_version (created first if missing); " + RowLocksOnly));
        }

        return locks;
    }
}
