using FluentMigrator;

namespace StatusData.Migrations.Versions;

/// <summary>
/// Mirrors the Python side's Alembic revision <c>a1b2c3d4e5f6</c>
/// (<c>2026_02_28_2200-a1b2c3d4e5f6_initial_users_and_status_updates.py</c>) exactly: the same
/// tables, column order, types, nullability and constraint names (PostgreSQL's defaults, which is what
/// SQLAlchemy's unnamed constraints get), no server-side defaults (the Python models set defaults in
/// the application) and no ON DELETE action (the cascade lives in the ORM).
/// </summary>
/// <remarks>
/// Every name is explicit: without them FluentMigrator would write PK_/UC_/FK_/IX_ names. Unique
/// constraints are <c>Create.UniqueConstraint</c>, not <c>.Unique()</c>, which makes an index.
/// No schema is named: the tables go to <c>public</c>, and baseline can build them in a scratch schema.
/// The lengths are literals, like Alembic's: this migration creates the schema of its day whatever the
/// library's current limits (StatusData's <c>SchemaLimits</c>) become; a change to them is a new migration.
/// </remarks>
[Migration(202602282200, "initial users and status_updates")]
[MirrorsAlembicRevision("a1b2c3d4e5f6")]
public sealed class InitialUsersAndStatusUpdates : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Create.Table("users")
            .WithColumn("id").AsGuid().NotNullable().PrimaryKey("users_pkey")
            .WithColumn("username").AsString(50).NotNullable()
            .WithColumn("display_name").AsString(100).NotNullable()
            .WithColumn("email").AsString(255).NotNullable()
            .WithColumn("password_hash").AsString(255).NotNullable()
            .WithColumn("avatar_url").AsString(500).Nullable()
            .WithColumn("xp").AsInt32().NotNullable()
            .WithColumn("current_streak").AsInt32().NotNullable()
            .WithColumn("longest_streak").AsInt32().NotNullable()
            .WithColumn("last_post_date").AsDate().Nullable()
            .WithColumn("created_at").AsDateTimeOffset().NotNullable();
        Create.UniqueConstraint("users_username_key").OnTable("users").Column("username");
        Create.UniqueConstraint("users_email_key").OnTable("users").Column("email");

        Create.Table("status_updates")
            .WithColumn("id").AsGuid().NotNullable().PrimaryKey("status_updates_pkey")
            .WithColumn("user_id").AsGuid().NotNullable().ForeignKey("status_updates_user_id_fkey", "users", "id")
            .WithColumn("message").AsString(int.MaxValue).NotNullable()
            .WithColumn("category").AsString(20).NotNullable()
            .WithColumn("created_at").AsDateTimeOffset().NotNullable();
        Create.Index("ix_status_updates_user_id").OnTable("status_updates").OnColumn("user_id").Ascending();
    }

    /// <inheritdoc />
    public override void Down()
    {
        Delete.Index("ix_status_updates_user_id").OnTable("status_updates");
        Delete.Table("status_updates");
        Delete.Table("users");
    }
}
