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
[Migration(202611220900, "keyset pagination indexes")]
public sealed class KeysetPaginationIndexes : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Sql("CREATE INDEX ix_status_updates_created_at_id ON status_updates (created_at, id)");
        Sql("CREATE INDEX ix_status_updates_user_id_created_at_id ON status_updates (user_id, created_at, id)");
        Sql("CREATE INDEX ix_status_updates_category_created_at_id ON status_updates (category, created_at, id)");
        Sql("CREATE INDEX ix_users_created_at_id ON users (created_at, id)");
    }

    /// <inheritdoc />
    public override void Down()
    {
        Sql("DROP INDEX ix_users_created_at_id");
        Sql("DROP INDEX ix_status_updates_category_created_at_id");
        Sql("DROP INDEX ix_status_updates_user_id_created_at_id");
        Sql("DROP INDEX ix_status_updates_created_at_id");
    }
}
