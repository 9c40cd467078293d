using System.Reflection;
using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure;
using FluentMigrator.Infrastructure.Extensions;
using FluentMigrator.Model;
using FluentMigrator.Postgres;
using Microsoft.Extensions.DependencyInjection;

namespace StatusData.Migrations.Internal;

/// <summary>
/// What a migration must not do to a live database, after squawk's and strong_migrations' catalogues, checked on
/// FluentMigrator's expressions (the migration as data, not its SQL) before the migration ships: a test fails when a
/// shipped migration breaks a rule that it does not waive (<see cref="WaivesMigrationRuleAttribute"/>).
/// </summary>
/// <remarks>
/// Only the Up step is read: Down runs when something already went wrong, and its destructive steps have their own
/// check (<see cref="DataLoss"/>). <c>Execute.Sql</c> is not inspected: a CHECK constraint, or a NOT VALID foreign key
/// done right, exists only as SQL in FluentMigrator, and this check does not parse SQL. Expressions inside
/// <c>IfDatabase(...)</c> are not seen either (see <see cref="DataLoss.OfDown"/>).
/// </remarks>
internal static class MigrationRules
{
    /// <summary>A rule: its name (what a waiver names), why it exists, and what to do instead.</summary>
    public sealed record Rule(string Name, string Reason, string SafeAlternative);

    /// <summary>Where <paramref name="Version"/> breaks <paramref name="Rule"/>: <paramref name="Subject"/> is e.g. "index ix_x on status_updates".</summary>
    public sealed record Violation(Rule Rule, long Version, string Subject)
    {
        public override string ToString() =>
            $"{Version}: {Subject} breaks {Rule.Name}. {Rule.Reason} Instead: {Rule.SafeAlternative} "
            + $"(If it is safe here, waive it with [WaivesMigrationRule(\"{Rule.Name}\", \"why\")].)";
    }

    // A UNIQUE or PRIMARY KEY constraint added to an existing table is this rule, not ConstraintWithoutNotValid: its
    // cost is the index it builds under the lock, and the way out is building that index concurrently; PostgreSQL has
    // no NOT VALID for UNIQUE or PRIMARY KEY (only for FOREIGN KEY and CHECK).
    public static readonly Rule IndexWithoutConcurrently = new(
        "index-without-concurrently",
        "CREATE INDEX on an existing table holds a SHARE lock until the build ends, so every insert, update and delete "
        + "of the table waits, for as long as reading the whole table takes; ADD CONSTRAINT … UNIQUE or PRIMARY KEY builds "
        + "its index under ACCESS EXCLUSIVE, which blocks reads too; DROP INDEX takes ACCESS EXCLUSIVE on the table, and "
        + "while it waits for running queries every new read and write queues behind it.",
        "Build or drop the index with .WithOptions().AsConcurrently() (using FluentMigrator.Postgres) in a migration with "
        + "TransactionBehavior.None, as 202611220900 does (SHARE UPDATE EXCLUSIVE: reads and writes go on). For a UNIQUE "
        + "or PRIMARY KEY constraint, create the unique index concurrently, then in a later migration "
        + "Execute.Sql(\"ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX …\"), which only renames it into a constraint.");

    public static readonly Rule NotNullColumnWithoutDefault = new(
        "not-null-column-without-default",
        "ADD COLUMN … NOT NULL without a default fails on any table that has rows (it passes on an empty development "
        + "database and breaks the production deployment), and once added, the running application's inserts, which do "
        + "not name the column, fail.",
        "Add the column .Nullable(), backfill it in batches, and make it NOT NULL as set-not-null says; or give it a "
        + "constant .WithDefaultValue(…), which PostgreSQL 11+ adds without rewriting the table.");

    public static readonly Rule ColumnTypeChange = new(
        "column-type-change",
        "ALTER COLUMN … TYPE takes ACCESS EXCLUSIVE, which blocks every read and write of the table, and for most type "
        + "changes rewrites the table and rebuilds its indexes while holding it; code already deployed (the .NET library "
        + "and the Python models) may also read the old type. FluentMigrator's Alter.Column always states the type, so "
        + "every Alter.Column lands here.",
        "Add a column of the new type, write both, backfill in batches, move the readers, drop the old column in a later "
        + "release. A change PostgreSQL does without a rewrite (varchar(n) to a larger n or to text) may be waived, "
        + "saying so; a change of nullability alone belongs in Execute.Sql.");

    public static readonly Rule ConstraintWithoutNotValid = new(
        "constraint-without-not-valid",
        "ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables and checks every existing row while holding it: writes "
        + "to both tables wait until the whole table is scanned. A CHECK constraint (SQL only in FluentMigrator) does "
        + "the same under ACCESS EXCLUSIVE.",
        "FluentMigrator has no NOT VALID: Execute.Sql(\"ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY (…) REFERENCES … (…) NOT VALID\"), "
        + "which checks only new rows and returns at once, then in a later migration "
        + "Execute.Sql(\"ALTER TABLE … VALIDATE CONSTRAINT …\"), which scans under SHARE UPDATE EXCLUSIVE: reads and writes go on.");

    public static readonly Rule SetNotNull = new(
        "set-not-null",
        "ALTER COLUMN … SET NOT NULL takes ACCESS EXCLUSIVE and scans the whole table for NULLs while holding it: every "
        + "read and write of the table waits for the scan.",
        "Execute.Sql(\"ALTER TABLE … ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID\"); in a later migration "
        + "VALIDATE CONSTRAINT (reads and writes go on); then Execute.Sql(\"ALTER TABLE … ALTER COLUMN … SET NOT NULL\"), "
        + "which PostgreSQL 12+ proves from the validated check without a scan, and DROP the check.");

    public static readonly Rule PythonModelInUse = new(
        "python-model-in-use",
        "The Python backend's SQLAlchemy models map this table or column, and SQLAlchemy names every mapped column in its "
        + "queries: once it is dropped or renamed, every query of that model fails (UndefinedTable, UndefinedColumn) "
        + "until a Python release without it is deployed.",
        "First ship the Python release whose models no longer use it (for a rename: a new column both sides write, "
        + "backfilled, then read), update PythonModels.cs to match, and drop or rename in a later migration.");

    public static readonly IReadOnlyList<Rule> All =
        [IndexWithoutConcurrently, NotNullColumnWithoutDefault, ColumnTypeChange, ConstraintWithoutNotValid, SetNotNull, PythonModelInUse];

    /// <summary>The rules <paramref name="migration"/>'s Up step breaks and does not waive, in its order.</summary>
    public static IReadOnlyList<Violation> Check(long version, IMigration migration)
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var context = new MigrationContext(null!, services, connection: null!);
        migration.GetUpExpressions(context);
        var waived = migration.GetType().GetCustomAttributes<WaivesMigrationRuleAttribute>().Select(w => w.Rule).ToHashSet(StringComparer.Ordinal);

        var created = new List<(string? Schema, string Table)>();
        var violations = new List<Violation>();
        void Break(Rule rule, string subject)
        {
            if (!waived.Contains(rule.Name))
            {
                violations.Add(new Violation(rule, version, subject));
            }
        }

        // "Existing" is any table this migration did not create before the step: the rules are about tables that
        // may hold rows and be in use, and a table created in the same migration is neither, yet.
        bool Exists(string? schema, string table) => !created.Any(c => c.Table == table && SameSchema(c.Schema, schema));

        foreach (var expression in context.Expressions)
        {
            switch (expression)
            {
                case CreateTableExpression table:
                    created.Add((table.SchemaName, table.TableName));
                    break;

                case CreateIndexExpression { Index: var index } when Exists(index.SchemaName, index.TableName) && !IsConcurrent(index):
                    Break(IndexWithoutConcurrently, $"index {index.Name} on {Name(index.SchemaName, index.TableName)}");
                    break;

                case DeleteIndexExpression { Index: var index } when Exists(index.SchemaName, index.TableName) && !IsConcurrent(index):
                    Break(IndexWithoutConcurrently, $"drop of index {index.Name} on {Name(index.SchemaName, index.TableName)}");
                    break;

                case CreateConstraintExpression { Constraint: var constraint } when Exists(constraint.SchemaName, constraint.TableName):
                    Break(IndexWithoutConcurrently, $"{(constraint.IsPrimaryKeyConstraint ? "primary key" : "unique constraint")} {constraint.ConstraintName} on {Name(constraint.SchemaName, constraint.TableName)}");
                    break;

                // FluentMigrator writes NOT NULL unless the column is .Nullable() (IsNullable null means NOT NULL here).
                // An identity or generated column fills itself; a primary key column is NOT NULL by nature, and the
                // primary key is index-without-concurrently's business if it comes as a constraint.
                case CreateColumnExpression { Column: var column } add when Exists(add.SchemaName, add.TableName)
                    && column.IsNullable != true && !HasDefault(column) && !column.IsIdentity && !column.IsPrimaryKey && column.Expression is null:
                    Break(NotNullColumnWithoutDefault, $"column {Name(add.SchemaName, add.TableName)}.{column.Name}");
                    break;

                case AlterColumnExpression alter when Exists(alter.SchemaName, alter.TableName):
                    Break(ColumnTypeChange, $"column {Name(alter.SchemaName, alter.TableName)}.{alter.Column.Name}");
                    // Alter.Column writes SET NOT NULL for NotNullable() only; without either call it leaves nullability alone.
                    if (alter.Column.IsNullable == false)
                    {
                        Break(SetNotNull, $"column {Name(alter.SchemaName, alter.TableName)}.{alter.Column.Name}");
                    }

                    break;

                // A column's .ForeignKey(..) in Create.Table or AddColumn comes as one of these too, after its table or column.
                case CreateForeignKeyExpression { ForeignKey: var key } when Exists(key.ForeignTableSchema, key.ForeignTable):
                    Break(ConstraintWithoutNotValid, $"foreign key {(key.Name is null ? string.Empty : key.Name + " ")}on {Name(key.ForeignTableSchema, key.ForeignTable)} referencing {Name(key.PrimaryTableSchema, key.PrimaryTable)}");
                    break;

                case DeleteTableExpression drop when PythonMaps(drop.SchemaName, drop.TableName):
                    Break(PythonModelInUse, $"drop of table {drop.TableName}, which the Python models map");
                    break;

                case RenameTableExpression rename when PythonMaps(rename.SchemaName, rename.OldName):
                    Break(PythonModelInUse, $"rename of table {rename.OldName} to {rename.NewName}, which the Python models map");
                    break;

                case DeleteColumnExpression drop:
                    foreach (var name in drop.ColumnNames.Where(name => PythonMaps(drop.SchemaName, drop.TableName, name)))
                    {
                        Break(PythonModelInUse, $"drop of column {drop.TableName}.{name}, which the Python models map");
                    }

                    break;

                case RenameColumnExpression rename when PythonMaps(rename.SchemaName, rename.TableName, rename.OldName):
                    Break(PythonModelInUse, $"rename of column {rename.TableName}.{rename.OldName} to {rename.NewName}, which the Python models map");
                    break;
            }
        }

        return violations;
    }

    /// <summary>
    /// Throws unless every <see cref="WaivesMigrationRuleAttribute"/> on <paramref name="migration"/> names a known rule,
    /// with a reason, and waives it once. <see cref="MigrationCatalog.Create"/> calls it, so a bad waiver fails at once.
    /// </summary>
    public static void ValidateWaivers(Type migration)
    {
        var waivers = migration.GetCustomAttributes<WaivesMigrationRuleAttribute>().ToList();
        foreach (var waiver in waivers)
        {
            if (!All.Any(r => r.Name == waiver.Rule))
            {
                throw new ArgumentException(
                    $"Migration {migration.FullName} waives '{waiver.Rule}', which is not a migration rule. The rules are: {string.Join(", ", All.Select(r => r.Name))}.",
                    nameof(migration));
            }

            if (string.IsNullOrWhiteSpace(waiver.Reason))
            {
                throw new ArgumentException($"Migration {migration.FullName} waives {waiver.Rule} without a reason; say why it is safe here.", nameof(migration));
            }
        }

        var twice = waivers.GroupBy(w => w.Rule).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
        {
            throw new ArgumentException($"Migration {migration.FullName} waives {twice.Key} twice; one waiver, one reason.", nameof(migration));
        }
    }

    // The same concurrency feature FluentMigrator's AsConcurrently() sets on Create.Index; StatusData's extension for
    // Delete.Index sets it too.
    private static bool IsConcurrent(IndexDefinition index) =>
        index.GetAdditionalFeature<PostgresIndexConcurrentlyDefinition>(PostgresExtensions.Concurrently)?.IsConcurrently == true;

    private static bool HasDefault(ColumnDefinition column) =>
        column.DefaultValue is not (ColumnDefinition.UndefinedDefaultValue or null);

    // Without a connection the default schema is unknown (baseline renders into a scratch schema), so an unnamed
    // schema matches any.
    private static bool SameSchema(string? a, string? b) => a is null || b is null || a == b;

    // The Python models name no schema: their tables are in the default one, public.
    private static bool PythonMaps(string? schema, string table, string? column = null) =>
        schema is null or "public"
        && PythonModels.Tables.TryGetValue(table, out var columns)
        && (column is null || columns.Contains(column));

    private static string Name(string? schema, string table) => schema is null ? table : $"{schema}.{table}";
}
