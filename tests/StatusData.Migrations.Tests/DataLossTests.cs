using FluentMigrator;

namespace StatusData.Migrations.Tests;

/// <summary>
/// A Down step that would destroy rows needs consent: without <c>--allow-data-loss</c> (API:
/// <see cref="StatusDataMigratorOptions.AllowDataLoss"/>) it is refused before anything changes, naming each table
/// (or column) and its count; on empty tables it runs.
/// </summary>
public sealed class DataLossTests
{
    [Fact]
    public async Task RevertingTablesThatHoldRowsThePythonSideWroteIsRefusedThroughTheApiAndChangesNothing()
    {
        await using var db = await TestDb.CreateMigratedAsync("dataloss", Ct);
        await PythonApp.OrmAsync(db.ConnectionString, "create-user", "py_user", "2026-03-01", "1"); // a user with one status update, by SQLAlchemy
        await db.ExecuteAsync("INSERT INTO status_updates SELECT gen_random_uuid(), id, 'second', 'python', now() FROM users", Ct);
        var before = await db.SnapshotAsync(Ct);

        var refused = await Assert.ThrowsAsync<MigrationException>(() => db.Runner().RollbackAsync(2, Ct));

        Assert.Equal(MigrationFailure.Refused, refused.Failure);
        Assert.Equal(
            "Reverting would destroy data, so nothing was changed. 202602282200 (initial users and status_updates): table status_updates holds 2 rows; table users holds 1 row. "
            + "Back the data up first; to revert anyway, run again with --allow-data-loss (API: StatusDataMigratorOptions.AllowDataLoss).",
            refused.Message);
        Assert.Equal(before, await db.SnapshotAsync(Ct)); // the index-only step before it did not run either
        Assert.Equal(2, (await db.VersionsAsync(Ct)).Count);

        var reverted = await db.Runner(new() { AllowDataLoss = true }).RollbackAsync(2, Ct);
        Assert.Equal([Known.KeysetIndexes, Known.Initial], reverted.Steps.Select(s => s.Version));
        Assert.False(await db.TableExistsAsync("public.users", Ct));
    }

    [Fact]
    public async Task OnEmptyTablesEveryDownStepRunsWithoutConsent()
    {
        await using var db = await TestDb.CreateMigratedAsync("datalossempty", Ct);

        var reverted = await db.Runner().DownAsync(0, Ct);

        Assert.Equal([Known.KeysetIndexes, Known.Initial], reverted.Steps.Select(s => s.Version));
        Assert.Equal(0, reverted.CurrentVersion);
    }

    [Fact]
    public async Task TheCliRefusesWithExitThreeNamingTheTablesAndRunsWithAllowDataLoss()
    {
        await using var db = await TestDb.CreateMigratedAsync("datalosscli", Ct);
        await PythonApp.OrmAsync(db.ConnectionString, "create-user", "py_user", "2026-03-01", "1");
        var connection = CliRunner.WithConnection(db.ConnectionString);

        foreach (var command in new[] { new[] { "rollback", "--steps", "2" }, ["down", "--to", "0"] })
        {
            var refused = await CliRunner.RunAsync(command, connection, cancellationToken: Ct);
            Assert.True(refused.ExitCode == 3, refused.ToString());
            Assert.Contains("error: Reverting would destroy data, so nothing was changed. 202602282200 (initial users and status_updates): table status_updates holds 1 row; table users holds 1 row.", refused.Stderr, StringComparison.Ordinal);
            Assert.Empty(refused.Stdout);
            Assert.Equal(2, (await db.VersionsAsync(Ct)).Count);
        }

        var allowed = await CliRunner.RunAsync(["down", "--to", "0", "--allow-data-loss"], connection, cancellationToken: Ct);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.EndsWith("database is at version 0\n", allowed.Stdout, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("public.users", Ct));
    }

    [Fact]
    public async Task ScriptDownMarksTheStepsThatDestroyData()
    {
        var result = await CliRunner.RunAsync(["script", "down", "--from", "202611220900", "--to", "0"], cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("-- 202602282200: initial users and status_updates\n-- DESTROYS DATA: drops table status_updates; drops table users; whatever it holds is lost.\nBEGIN;\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("-- 202611220900: keyset pagination indexes\n-- Runs outside a transaction", result.Stdout, StringComparison.Ordinal); // indexes only: no data
    }

    [Fact]
    public async Task ADroppedColumnWithValuesAndSqlTheRunnerCannotInspectAreRefusedToo()
    {
        await using var db = await TestDb.CreateEmptyAsync("datalosscolumn", Ct);
        IMigration[] migrations = [.. Known.BuiltIn(), new AddNickname(), new AddScratchTable()];
        await db.Runner(new() { Migrations = migrations }).UpAsync(cancellationToken: Ct);
        await db.ExecuteAsync("INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, created_at, nickname) VALUES (gen_random_uuid(), 'n', 'N', 'n@example.com', 'h', 0, 0, 0, now(), 'nick')", Ct);

        var sql = await Assert.ThrowsAsync<MigrationException>(() => db.Runner(new() { Migrations = migrations }).RollbackAsync(1, Ct));
        Assert.Contains("202612010001 (scratch table): it runs SQL (DROP TABLE scratch), which may destroy data and which the runner cannot inspect, so how much it destroys is unknown.", sql.Message, StringComparison.Ordinal);

        await db.Runner(new() { Migrations = migrations, AllowDataLoss = true }).RollbackAsync(1, Ct);
        var column = await Assert.ThrowsAsync<MigrationException>(() => db.Runner(new() { Migrations = migrations }).RollbackAsync(1, Ct));
        Assert.Contains("202612010000 (nickname): column users.nickname holds 1 value.", column.Message, StringComparison.Ordinal);

        await db.ExecuteAsync("UPDATE users SET nickname = NULL", Ct);
        Assert.Single((await db.Runner(new() { Migrations = migrations }).RollbackAsync(1, Ct)).Steps); // a column of NULLs loses nothing
    }

    [Migration(202612010000, "nickname")]
    private sealed class AddNickname : Migration
    {
        public override void Up() => Alter.Table("users").AddColumn("nickname").AsString(50).Nullable();

        public override void Down() => Delete.Column("nickname").FromTable("users");
    }

    [Migration(202612010001, "scratch table")]
    private sealed class AddScratchTable : Migration
    {
        public override void Up() => Execute.Sql("CREATE TABLE scratch (id int)");

        public override void Down() => Execute.Sql("DROP TABLE scratch");
    }
}
