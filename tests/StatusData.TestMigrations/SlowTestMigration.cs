using FluentMigrator;


namespace StatusData.TestMigrations;

/// <summary>
/// A migration that creates a table and then sleeps for as many seconds as the session setting
/// <c>statusdata_test.sleep_seconds</c> says (0 when unset), so a test can kill the CLI while it is
/// in the middle of it, and a re-run without the setting completes at once. Its version is far in
/// the future so that it always sorts after the real migrations.
/// </summary>
[Migration(209901010000, "reliability test: slow migration")]
public sealed class SlowTestMigration : Migration
{
    /// <summary>The table the migration creates.</summary>
    public const string Table = "reliability_slow_migration";

    /// <summary>The custom setting that says how long to sleep, e.g. <c>Options=-c statusdata_test.sleep_seconds=30</c>.</summary>
    public const string SleepSetting = "statusdata_test.sleep_seconds";

    /// <inheritdoc />
    public override void Up()
    {
        Execute.Sql("CREATE TABLE reliability_slow_migration (id integer NOT NULL PRIMARY KEY)");
        Execute.Sql("SELECT pg_sleep(coalesce(nullif(current_setting('statusdata_test.sleep_seconds', true), ''), '0')::double precision)");
    }

    /// <inheritdoc />
    public override void Down() => Execute.Sql("DROP TABLE reliability_slow_migration");
}
