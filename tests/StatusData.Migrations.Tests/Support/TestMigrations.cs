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
        Sql("CREATE TABLE should_not_exist (id integer NOT NULL)");
        Sql("SELECT 1/0");
    }

    public override void Down() => Sql("DROP TABLE should_not_exist");
}
