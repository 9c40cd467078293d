using FluentMigrator;

namespace StatusData.Benchmarks.Scenarios;

/// <summary>
/// Migration 202611220900 as it shipped before issue 20: the four indexes built with plain CREATE INDEX in one
/// transaction, copied verbatim from src/StatusData.Migrations/Versions/202611220900_KeysetPaginationIndexes.cs at
/// commit aeb82cf. It is the "before" of <see cref="MigrationUnderLoad"/>; whatever the library ships is the "after".
/// </summary>
[Migration(202611220900, "keyset pagination indexes")]
public sealed class TransactionalKeysetPaginationIndexes : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Create.Index("ix_status_updates_created_at_id").OnTable("status_updates")
            .OnColumn("created_at").Ascending().OnColumn("id").Ascending();
        Create.Index("ix_status_updates_user_id_created_at_id").OnTable("status_updates")
            .OnColumn("user_id").Ascending().OnColumn("created_at").Ascending().OnColumn("id").Ascending();
        Create.Index("ix_status_updates_category_created_at_id").OnTable("status_updates")
            .OnColumn("category").Ascending().OnColumn("created_at").Ascending().OnColumn("id").Ascending();
        Create.Index("ix_users_created_at_id").OnTable("users")
            .OnColumn("created_at").Ascending().OnColumn("id").Ascending();
    }

    /// <inheritdoc />
    public override void Down()
    {
        Delete.Index("ix_users_created_at_id").OnTable("users");
        Delete.Index("ix_status_updates_category_created_at_id").OnTable("status_updates");
        Delete.Index("ix_status_updates_user_id_created_at_id").OnTable("status_updates");
        Delete.Index("ix_status_updates_created_at_id").OnTable("status_updates");
    }
}

/// <summary>
/// A stand-in for the non-transactional migration issue 20 asks for (each index CREATE INDEX CONCURRENTLY, no
/// transaction), to check the harness before the library ships one: <c>--after local-concurrent</c>. The report
/// labels it as this copy, never as the library's.
/// </summary>
[Migration(202611220900, TransactionBehavior.None, "keyset pagination indexes")]
public sealed class ConcurrentKeysetPaginationIndexes : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Execute.Sql("CREATE INDEX CONCURRENTLY ix_status_updates_created_at_id ON status_updates (created_at, id)");
        Execute.Sql("CREATE INDEX CONCURRENTLY ix_status_updates_user_id_created_at_id ON status_updates (user_id, created_at, id)");
        Execute.Sql("CREATE INDEX CONCURRENTLY ix_status_updates_category_created_at_id ON status_updates (category, created_at, id)");
        Execute.Sql("CREATE INDEX CONCURRENTLY ix_users_created_at_id ON users (created_at, id)");
    }

    /// <inheritdoc />
    public override void Down()
    {
        Execute.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_users_created_at_id");
        Execute.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_status_updates_category_created_at_id");
        Execute.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_status_updates_user_id_created_at_id");
        Execute.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_status_updates_created_at_id");
    }
}
