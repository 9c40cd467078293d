using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure.Extensions;
using FluentMigrator.Model;
using FluentMigrator.Postgres;

namespace StatusData.Migrations.Internal;

/// <summary>
/// The strongest PostgreSQL table lock one step takes (<paramref name="Mode"/>, e.g. "ACCESS EXCLUSIVE"), on which table
/// (null: none, or unknown), and what that means for the application, in an operator's words: for
/// <c>statusdata-migrate plan</c>.
/// </summary>
/// <remarks>
/// "Until done" is the end of the transaction the statement runs in: the migration's, unless it is
/// <c>TransactionBehavior.None</c>. Every lock also waits for the transactions already holding a conflicting one,
/// and while it waits, everything that conflicts with it queues behind it; the runner's lock timeout bounds that wait.
/// Lock levels are PostgreSQL 15's (the explicit-locking, ALTER TABLE, CREATE INDEX and DROP INDEX pages).
/// </remarks>
internal sealed record LockImpact(string Mode, string? Table, string Effect)
{
    public const string AccessExclusive = "ACCESS EXCLUSIVE";
    public const string ShareRowExclusive = "SHARE ROW EXCLUSIVE";
    public const string Share = "SHARE";
    public const string ShareUpdateExclusive = "SHARE UPDATE EXCLUSIVE";
    public const string RowExclusive = "ROW EXCLUSIVE";
    public const string Unknown = "unknown";

    /// <summary>
    /// What <paramref name="expression"/> locks, strongest first per table: one impact per table it locks (a foreign
    /// key locks two), none for a step that runs no SQL (<c>Alter.Table</c> alone; its columns are steps of their own).
    /// </summary>
    /// <remarks>Pass expressions after FluentMigrator's conventions ran, so that default names and schemas are filled in.</remarks>
    public static IReadOnlyList<LockImpact> Of(IMigrationExpression expression) => expression switch
    {
        // A column's .ForeignKey(..) in Create.Table comes as a CreateForeignKeyExpression of its own, right after it,
        // which names the lock on the referenced table.
        CreateTableExpression table => [new(AccessExclusive, Name(table.SchemaName, table.TableName), "new table: nobody else uses it yet")],
        DeleteTableExpression table => [BlocksAll(Name(table.SchemaName, table.TableName))],
        RenameTableExpression table => [BlocksAll(Name(table.SchemaName, table.OldName))],
        AlterSchemaExpression move => [BlocksAll(Name(move.SourceSchemaName, move.TableName))],

        // ALTER TABLE's ADD COLUMN, ALTER COLUMN TYPE / SET NOT NULL / SET DEFAULT / DROP DEFAULT, DROP COLUMN and
        // RENAME COLUMN all take ACCESS EXCLUSIVE.
        CreateColumnExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],
        AlterColumnExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],
        DeleteColumnExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],
        RenameColumnExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],
        AlterDefaultConstraintExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],
        DeleteDefaultConstraintExpression column => [BlocksAll(Name(column.SchemaName, column.TableName))],

        // FluentMigrator's generator writes nothing for Alter.Table itself.
        AlterTableExpression => [],

        CreateIndexExpression { Index: var index } when IsConcurrent(index) => [Concurrent(Name(index.SchemaName, index.TableName))],
        CreateIndexExpression { Index: var index } => [BlocksWrites(Share, Name(index.SchemaName, index.TableName))],
        DeleteIndexExpression { Index: var index } when IsConcurrent(index) => [Concurrent(Name(index.SchemaName, index.TableName))],
        DeleteIndexExpression { Index: var index } => [BlocksAll(Name(index.SchemaName, index.TableName))],

        // ADD FOREIGN KEY: SHARE ROW EXCLUSIVE on the table and the referenced table, for the scan of every row.
        CreateForeignKeyExpression { ForeignKey: var key } => Distinct(
            BlocksWrites(ShareRowExclusive, Name(key.ForeignTableSchema, key.ForeignTable)),
            BlocksWrites(ShareRowExclusive, Name(key.PrimaryTableSchema, key.PrimaryTable))),
        // DROP CONSTRAINT takes ACCESS EXCLUSIVE; for a foreign key the referenced table's triggers go too, under the
        // same lock. FluentMigrator's Delete.ForeignKey need not name the referenced table; then only one is known.
        DeleteForeignKeyExpression { ForeignKey: var key } => Distinct(
            BlocksAll(Name(key.ForeignTableSchema, key.ForeignTable)),
            key.PrimaryTable is null ? null : BlocksAll(Name(key.PrimaryTableSchema, key.PrimaryTable))),
        // ADD CONSTRAINT UNIQUE / PRIMARY KEY builds its index under ACCESS EXCLUSIVE.
        CreateConstraintExpression { Constraint: var constraint } => [BlocksAll(Name(constraint.SchemaName, constraint.TableName))],
        DeleteConstraintExpression { Constraint: var constraint } => [BlocksAll(Name(constraint.SchemaName, constraint.TableName))],

        // Row-level: INSERT, UPDATE and DELETE take ROW EXCLUSIVE, which conflicts with no other writer; only the rows
        // they change are locked.
        InsertDataExpression data => [new(RowExclusive, Name(data.SchemaName, data.TableName), $"adds rows to {Name(data.SchemaName, data.TableName)}; reads and writes go on")],
        UpdateDataExpression data => [RowLevel(Name(data.SchemaName, data.TableName), data.IsAllRows)],
        DeleteDataExpression data => [RowLevel(Name(data.SchemaName, data.TableName), data.IsAllRows)],

        CreateSchemaExpression schema => [new(AccessExclusive, null, $"new schema {schema.SchemaName}: nobody else uses it yet")],
        CreateSequenceExpression { Sequence: var sequence } => [new(AccessExclusive, null, $"new sequence {Name(sequence.SchemaName, sequence.Name)}: nobody else uses it yet")],

        ExecuteSqlStatementExpression or ExecuteSqlScriptExpression or ExecuteEmbeddedSqlScriptExpressionBase =>
            [new(Unknown, null, "SQL the plan cannot inspect: its locks are unknown")],
        PerformDBOperationExpression => [new(Unknown, null, "code of its own on the connection (Execute.WithConnection): its locks are unknown")],
        _ => [new(Unknown, null, $"a step the plan does not know ({expression.GetType().Name}): its locks are unknown")],
    };

    private static LockImpact BlocksAll(string table) => new(AccessExclusive, table, $"blocks reads and writes of {table} until done");

    private static LockImpact BlocksWrites(string mode, string table) => new(mode, table, $"blocks writes to {table} until done; reads go on");

    // CREATE/DROP INDEX CONCURRENTLY: SHARE UPDATE EXCLUSIVE conflicts with no read or write, but the build waits for
    // every transaction that already uses the table (twice, for CREATE).
    private static LockImpact Concurrent(string table) =>
        new(ShareUpdateExclusive, table, $"blocks neither reads nor writes of {table}; waits for transactions already using it");

    private static LockImpact RowLevel(string table, bool allRows) => new(RowExclusive, table, allRows
        ? $"locks every row of {table}: other writers of {table} wait until done; reads go on"
        : $"locks only the rows it changes in {table}; reads and other writes go on");

    private static LockImpact[] Distinct(LockImpact first, LockImpact? second) =>
        second is null || second.Table == first.Table ? [first] : [first, second];

    // The same concurrency feature FluentMigrator's AsConcurrently() sets (see MigrationRules).
    private static bool IsConcurrent(IndexDefinition index) =>
        index.GetAdditionalFeature<PostgresIndexConcurrentlyDefinition>(PostgresExtensions.Concurrently)?.IsConcurrently == true;

    private static string Name(string? schema, string table) => string.IsNullOrEmpty(schema) ? table : $"{schema}.{table}";
}
