using System.Globalization;
using System.Text;
using FluentMigrator;

namespace StatusData.Migrations.Internal;

/// <summary>
/// <c>statusdata-migrate script</c>: the SQL a run would execute, as a psql script an operator can review and run,
/// with the same lock, lock timeout and transactions as the runner.
/// </summary>
internal static class ScriptRenderer
{
    public static string Render(MigrationCatalog catalog, MigrationDirection direction, IReadOnlyList<KnownMigration> plan, long target, string lockTimeoutSetting)
    {
        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"-- statusdata-migrate script {direction.ToString().ToLowerInvariant()} to {target}: {plan.Count} migration(s).\n");
        script.Append("-- The SQL is FluentMigrator's; review, then run with: psql -v ON_ERROR_STOP=1 -f <this file>\n");
        if (direction == MigrationDirection.Up && plan.Count > 0)
        {
            script.Append('\n').Append(VersionInfoTable.CreateSql).Append(";\n");
        }

        foreach (var (migration, statements) in catalog.Script(direction, plan))
        {
            script.Append(CultureInfo.InvariantCulture, $"\n-- {migration.Version}: {migration.Description}\n");
            if (direction == MigrationDirection.Down && DataLoss.OfDown(migration.Migration) is { Count: > 0 } destroys)
            {
                script.Append(CultureInfo.InvariantCulture, $"-- DESTROYS DATA: {string.Join("; ", destroys)}; whatever it holds is lost.\n");
            }

            if (migration.InTransaction)
            {
                script.Append("BEGIN;\n");
                script.Append(CultureInfo.InvariantCulture, $"SET LOCAL lock_timeout = '{lockTimeoutSetting}';\n");
                script.Append(MigrationLock.ScriptStatement).Append('\n');
                AppendStatements(script, statements);
                script.Append("COMMIT;\n");
                continue;
            }

            // CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction: the lock is taken for the session instead.
            script.Append("-- Runs outside a transaction (concurrent index builds): each statement commits on its own; the version row comes last.\n");
            if (direction == MigrationDirection.Up)
            {
                script.Append("-- If an earlier attempt failed, it left an INVALID index (see \\d in psql): drop it with DROP INDEX CONCURRENTLY first.\n");
            }

            script.Append(MigrationLock.ScriptSessionStatement).Append('\n');
            AppendStatements(script, statements);
            script.Append(MigrationLock.ScriptSessionUnlockStatement).Append('\n');
        }

        return script.ToString();
    }

    private static void AppendStatements(StringBuilder script, IReadOnlyList<string> statements)
    {
        foreach (var statement in statements)
        {
            script.Append(statement).Append(";\n");
        }
    }
}
