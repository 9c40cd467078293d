using FluentMigrator;
namespace StatusData.Migrations.Tests.Support;

/// <summary>
/// Creates a table, then fails. Never found by discovery of the runner's assembly; tests construct it
/// explicitly (discovering the test assembly would pick up every test migration at once).
/// </summary>
[Migration(202612010000, "creates should_not_exist, then divides by zero")]
internal sealed class FailingMigration : Migration
{
    public const long Version = 202612010000;

    public override void Up()
    {
        Execute.Sql("CREATE TABLE should_not_exist (id integer NOT NULL)");
        Execute.Sql("SELECT 1/0");
    }

    public override void Down() => Execute.Sql("DROP TABLE should_not_exist");
}

/// <summary>A migration from a branch merged late: its version is older than the newest built-in one.</summary>
[Migration(202603010000, "late branch: comment on users")]
internal sealed class LateMigration : Migration
{
    public const long Version = 202603010000;

    public override void Up() => Execute.Sql("COMMENT ON TABLE users IS 'registered accounts'");

    public override void Down() => Execute.Sql("COMMENT ON TABLE users IS NULL");
}

/// <summary>The same SQL as <see cref="LfMigration"/>, written with CRLF line endings, blanks around it and a trailing semicolon.</summary>
[Migration(202604010000, "checksum probe")]
internal sealed class CrlfMigration : Migration
{
    public override void Up() => Execute.Sql("  CREATE TABLE probe (\r\n    id integer NOT NULL\r\n);\r\n");

    public override void Down() => Execute.Sql("DROP TABLE probe");
}

[Migration(202604010000, "checksum probe")]
internal sealed class LfMigration : Migration
{
    public override void Up() => Execute.Sql("CREATE TABLE probe (\n    id integer NOT NULL\n)");

    public override void Down() => Execute.Sql("DROP TABLE probe");
}

[Migration(202604010000, "checksum probe")]
internal sealed class ChangedMigration : Migration
{
    public override void Up() => Execute.Sql("CREATE TABLE probe (\n    id bigint NOT NULL\n)");

    public override void Down() => Execute.Sql("DROP TABLE probe");
}

[Migration(202613010000, "month 13")]
internal sealed class NotATimestampMigration : Migration
{
    public override void Up() => Execute.Sql("SELECT 1");

    public override void Down() => Execute.Sql("SELECT 1");
}

[Migration(202605010000, " ")]
internal sealed class BlankDescriptionMigration : Migration
{
    public override void Up() => Execute.Sql("SELECT 1");

    public override void Down() => Execute.Sql("SELECT 1");
}
