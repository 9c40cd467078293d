using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure;
using FluentMigrator.Model;
using FluentMigrator.Postgres;

namespace StatusData.Migrations.Tests.Support;

// The migrations MigrationRuleTests checks: for each rule one that breaks it (and only it) on the tables of the shipped
// schema, and safe counterparts. Never applied to a database; here rather than in StatusData.TestMigrations, whose
// migrations the CLI tests load wholesale.

[Migration(202612020000, "index on users, built under a lock")]
internal sealed class IndexOnExistingTable : Migration
{
    public override void Up() => Create.Index("ix_users_display_name").OnTable("users").OnColumn("display_name").Ascending();

    public override void Down() => Delete.Index("ix_users_display_name").OnTable("users");
}

[Migration(202612020001, "drop of an index of status_updates, under a lock")]
internal sealed class DropIndexOnExistingTable : Migration
{
    public override void Up() => Delete.Index("ix_status_updates_user_id").OnTable("status_updates");

    public override void Down() => Create.Index("ix_status_updates_user_id").OnTable("status_updates").OnColumn("user_id").Ascending();
}

[Migration(202612020002, "unique constraint on users, its index built under a lock")]
internal sealed class UniqueConstraintOnExistingTable : Migration
{
    public override void Up() => Create.UniqueConstraint("users_display_name_key").OnTable("users").Column("display_name");

    public override void Down() => Delete.UniqueConstraint("users_display_name_key").FromTable("users");
}

[Migration(202612020003, TransactionBehavior.None, "index built and dropped concurrently")]
internal sealed class ConcurrentIndexesOnExistingTable : Migration
{
    public override void Up()
    {
        Create.Index("ix_users_display_name").OnTable("users").OnColumn("display_name").Ascending().WithOptions().AsConcurrently();
        Delete.Index("ix_status_updates_user_id").OnTable("status_updates");
    }

    public override void Down() => Delete.Index("ix_users_display_name").OnTable("users");

    // What StatusData's Delete.Index(..).OnTable(..).WithOptions().AsConcurrently() sets: FluentMigrator's own
    // concurrency feature, which FluentMigrator 8.0.1 offers for Create.Index only.
    public override void GetUpExpressions(IMigrationContext context)
    {
        base.GetUpExpressions(context);
        var drop = context.Expressions.OfType<DeleteIndexExpression>().Single();
        drop.Index.AdditionalFeatures[PostgresExtensions.Concurrently] = new PostgresIndexConcurrentlyDefinition { IsConcurrently = true };
    }
}

/// <summary>Everything on a table created in the same migration: nobody uses it yet, so no rule applies.</summary>
[Migration(202612020004, "badges, with its index, constraints and a later column")]
internal sealed class EverythingOnANewTable : Migration
{
    public override void Up()
    {
        Create.Table("badges").InSchema("public") // the steps below name no schema: still the same table
            .WithColumn("id").AsGuid().NotNullable().PrimaryKey("badges_pkey")
            .WithColumn("user_id").AsGuid().NotNullable().ForeignKey("badges_user_id_fkey", "users", "id")
            .WithColumn("name").AsString(50).NotNullable();
        Create.Index("ix_badges_user_id").OnTable("badges").OnColumn("user_id").Ascending();
        Create.UniqueConstraint("badges_name_key").OnTable("badges").Column("name");
        Create.ForeignKey("badges_user_id_fkey2").FromTable("badges").ForeignColumn("user_id").ToTable("users").PrimaryColumn("id");
        Alter.Table("badges").AddColumn("level").AsInt32().NotNullable();
        Alter.Column("name").OnTable("badges").AsString(100).NotNullable();
    }

    public override void Down() => Delete.Table("badges").InSchema("public");
}

[Migration(202612020005, "required columns on users")]
internal sealed class NotNullColumnsOnExistingTable : Migration
{
    public override void Up()
    {
        Alter.Table("users").AddColumn("nickname").AsString(50).NotNullable();
        Alter.Table("users").AddColumn("bio").AsString(200); // FluentMigrator writes NOT NULL unless told .Nullable()
    }

    public override void Down() => Delete.Column("nickname").Column("bio").FromTable("users");
}

[Migration(202612020006, "columns on users that are safe to add")]
internal sealed class SafeColumnsOnExistingTable : Migration
{
    public override void Up()
    {
        Alter.Table("users").AddColumn("nickname").AsString(50).Nullable();
        Alter.Table("users").AddColumn("level").AsInt32().NotNullable().WithDefaultValue(1);
    }

    public override void Down() => Delete.Column("nickname").Column("level").FromTable("users");
}

[Migration(202612020007, "longer display names")]
internal sealed class ColumnTypeChangeOnExistingTable : Migration
{
    public override void Up() => Alter.Column("display_name").OnTable("users").AsString(200);

    public override void Down() => Alter.Column("display_name").OnTable("users").AsString(100);
}

[Migration(202612020008, "foreign key added to status_updates, checked under a lock")]
internal sealed class ForeignKeyOnExistingTable : Migration
{
    public override void Up() =>
        Create.ForeignKey("status_updates_user_id_fkey2").FromTable("status_updates").ForeignColumn("user_id").ToTable("users").PrimaryColumn("id");

    public override void Down() => Delete.ForeignKey("status_updates_user_id_fkey2").OnTable("status_updates");
}

/// <summary>Alter.Column always restates the type, so this waives column-type-change, leaving set-not-null alone to fire.</summary>
[Migration(202612020009, "avatar_url required")]
[WaivesMigrationRule("column-type-change", "restates varchar(500), the type avatar_url already has: no rewrite")]
internal sealed class SetNotNullOnExistingColumn : Migration
{
    public override void Up() => Alter.Column("avatar_url").OnTable("users").AsString(500).NotNullable();

    public override void Down() => Alter.Column("avatar_url").OnTable("users").AsString(500).Nullable();
}

/// <summary>The same step as <see cref="SetNotNullOnExistingColumn"/>, with no waiver.</summary>
[Migration(202612020010, "avatar_url required, unwaived")]
internal sealed class SetNotNullUnwaived : Migration
{
    public override void Up() => Alter.Column("avatar_url").OnTable("users").AsString(500).NotNullable();

    public override void Down() => Alter.Column("avatar_url").OnTable("users").AsString(500).Nullable();
}

[Migration(202612020011, "drops and renames what the Python models map")]
internal sealed class DropsAndRenamesWhatPythonUses : Migration
{
    public override void Up()
    {
        Delete.Column("avatar_url").FromTable("users");
        Rename.Column("xp").OnTable("users").To("points");
        Rename.Table("users").To("accounts");
        Delete.Table("status_updates").InSchema("public");
    }

    public override void Down() => throw new NotSupportedException("never applied");
}

[Migration(202612020012, "drops what the Python models do not map")]
internal sealed class DropsWhatPythonDoesNotUse : Migration
{
    public override void Up()
    {
        Delete.Column("nickname").FromTable("users");
        Rename.Column("bio").OnTable("users").To("about");
        Delete.Table("scratch");
        Delete.Table("users").InSchema("archive"); // another schema's users: not the Python models' table
    }

    public override void Down() => throw new NotSupportedException("never applied");
}

[Migration(202612020013, "waives a rule without a reason")]
[WaivesMigrationRule("column-type-change", " ")]
internal sealed class WaiverWithoutReason : Migration
{
    public override void Up() => Alter.Column("display_name").OnTable("users").AsString(200);

    public override void Down() => Alter.Column("display_name").OnTable("users").AsString(100);
}

[Migration(202612020014, "waives a rule that does not exist")]
[WaivesMigrationRule("column-type-changes", "varchar(100) to varchar(200) does not rewrite the table")]
internal sealed class WaiverOfUnknownRule : Migration
{
    public override void Up() => Alter.Column("display_name").OnTable("users").AsString(200);

    public override void Down() => Alter.Column("display_name").OnTable("users").AsString(100);
}

[Migration(202612020015, "waives one rule twice")]
[WaivesMigrationRule("column-type-change", "varchar(100) to varchar(200) does not rewrite the table")]
[WaivesMigrationRule("column-type-change", "and again")]
internal sealed class WaiverTwice : Migration
{
    public override void Up() => Alter.Column("display_name").OnTable("users").AsString(200);

    public override void Down() => Alter.Column("display_name").OnTable("users").AsString(100);
}

/// <summary>One step of each kind LockImpactTests names the lock of.</summary>
[Migration(202612020016, TransactionBehavior.None, "one step of each kind")]
internal sealed class OneStepOfEachKind : Migration
{
    public override void Up()
    {
        Create.Table("badges")
            .WithColumn("id").AsGuid().NotNullable().PrimaryKey("badges_pkey")
            .WithColumn("user_id").AsGuid().NotNullable().ForeignKey("badges_user_id_fkey", "users", "id");
        Create.Index("ix_users_display_name").OnTable("users").OnColumn("display_name").Ascending();
        Create.Index("ix_users_email").OnTable("users").OnColumn("email").Ascending().WithOptions().AsConcurrently();
        Delete.Index("ix_status_updates_user_id").OnTable("status_updates");
        Alter.Table("users").AddColumn("nickname").AsString(50).Nullable();
        Alter.Column("display_name").OnTable("users").AsString(200).NotNullable();
        Create.ForeignKey("status_updates_user_id_fkey2").FromTable("status_updates").ForeignColumn("user_id").ToTable("users").PrimaryColumn("id");
        Create.UniqueConstraint("users_display_name_key").OnTable("users").Column("display_name");
        Insert.IntoTable("badges").Row(new { id = Guid.Empty, user_id = Guid.Empty });
        Update.Table("users").Set(new { xp = 0 }).AllRows();
        Delete.FromTable("status_updates").Row(new { category = "spam" });
        Rename.Column("xp").OnTable("users").To("points");
        Delete.Table("badges");
        Execute.Sql("ALTER TABLE users ADD CONSTRAINT users_xp_check CHECK (xp >= 0) NOT VALID");
    }

    public override void Down() => throw new NotSupportedException("never applied");
}
