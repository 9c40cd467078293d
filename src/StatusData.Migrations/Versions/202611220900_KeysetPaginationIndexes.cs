using FluentMigrator;
using FluentMigrator.Postgres;

namespace StatusData.Migrations.Versions;

/// <summary>
/// Indexes that make StatusData's keyset-paginated lists cost the same on page 10,000 as on page 1:
/// every list is ordered by <c>(created_at, id)</c>, within a user, a category, or globally.
/// </summary>
/// <remarks>
/// Nothing on <c>users.xp</c>: posting updates xp on every call, and an index on it would turn those
/// HOT updates into full index updates on the hot write path. The leaderboard is a top-N sort over
/// users instead (see docs/library.md). The Python models should declare the same indexes
/// (<c>Index(...)</c> in <c>__table_args__</c>) so that Alembic autogenerate does not propose dropping them.
/// </remarks>
[Migration(202611220900, TransactionBehavior.None, "keyset pagination indexes")]
public sealed class KeysetPaginationIndexes : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Create.Index("ix_status_updates_created_at_id").OnTable("status_updates")
            .OnColumn("created_at").Ascending().OnColumn("id").Ascending()
            .WithOptions().AsConcurrently();
        Create.Index("ix_status_updates_user_id_created_at_id").OnTable("status_updates")
            .OnColumn("user_id").Ascending().OnColumn("created_at").Ascending().OnColumn("id").Ascending()
            .WithOptions().AsConcurrently();
        Create.Index("ix_status_updates_category_created_at_id").OnTable("status_updates")
            .OnColumn("category").Ascending().OnColumn("created_at").Ascending().OnColumn("id").Ascending()
            .WithOptions().AsConcurrently();
        Create.Index("ix_users_created_at_id").OnTable("users")
            .OnColumn("created_at").Ascending().OnColumn("id").Ascending()
            .WithOptions().AsConcurrently();
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
