namespace StatusData.Migrations.Tests;

/// <summary><c>statusdata-migrate script</c>: the SQL a run would execute, for review or for psql.</summary>
public sealed class ScriptTests
{
    [Fact]
    public async Task ScriptUpFromZeroNeedsNoConnectionAndPrintsEveryMigration()
    {
        var result = await CliRunner.RunAsync(["script", "up", "--from", "0"], cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        var sql = result.Stdout;
        AssertInOrder(
            sql,
            "CREATE TABLE IF NOT EXISTS version_info",
            "CREATE TABLE \"public\".\"users\" (",
            "CREATE TABLE \"public\".\"status_updates\" (",
            "CREATE INDEX \"ix_status_updates_user_id\" ON \"public\".\"status_updates\" (\"user_id\" ASC);",
            $"INSERT INTO \"public\".\"version_info\" (\"version\",\"applied_on\",\"description\",\"checksum\") VALUES (202602282200,now(),'initial users and status_updates','{Known.InitialChecksum}');",
            "COMMIT;",
            "-- Runs outside a transaction (concurrent index builds)",
            $"SELECT pg_advisory_lock({MigrationLock.Key});",
            "CREATE INDEX CONCURRENTLY \"ix_status_updates_created_at_id\" ON \"public\".\"status_updates\" (\"created_at\" ASC,\"id\" ASC);",
            $"INSERT INTO \"public\".\"version_info\" (\"version\",\"applied_on\",\"description\",\"checksum\") VALUES (202611220900,now(),'keyset pagination indexes','{Known.KeysetIndexesChecksum}');",
            $"SELECT pg_advisory_unlock({MigrationLock.Key});");
        Assert.Equal(1, Count(sql, "BEGIN;"));
        Assert.Equal(1, Count(sql, "COMMIT;"));
        Assert.Equal(1, Count(sql, $"SELECT pg_advisory_xact_lock({MigrationLock.Key});"));
    }

    [Fact]
    public async Task ScriptDownPrintsTheDropsNewestFirstAndDeletesTheVersionRows()
    {
        var result = await CliRunner.RunAsync(["script", "down", "--from", "202611220900", "--to", "0"], cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertInOrder(
            result.Stdout,
            "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"ix_users_created_at_id\";",
            "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"ix_status_updates_created_at_id\";",
            "DELETE FROM \"public\".\"version_info\" WHERE \"version\" = 202611220900;",
            "DROP INDEX \"public\".\"ix_status_updates_user_id\";",
            "DROP TABLE \"public\".\"status_updates\";",
            "DROP TABLE \"public\".\"users\";",
            "DELETE FROM \"public\".\"version_info\" WHERE \"version\" = 202602282200;");
        Assert.DoesNotContain("CREATE", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheUpScriptRunOnAnEmptyDatabaseLeavesEveryMigrationAppliedWithMatchingChecksums()
    {
        await using var db = await TestDb.CreateEmptyAsync("scriptrun", Ct);
        var script = await CliRunner.RunAsync(["script", "up", "--from", "0"], cancellationToken: Ct);
        Assert.True(script.ExitCode == 0, script.ToString());

        // Run as its header says, by psql: statement by statement, so CREATE INDEX CONCURRENTLY runs outside a transaction.
        await Psql.RunScriptAsync(db.ConnectionString, script.Stdout, Ct);

        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Applied)],
            (await db.Runner().GetStatusAsync(Ct)).Select(s => (s.Version, s.State)));
        Assert.Equal(
            [(Known.Initial, Known.InitialChecksum), (Known.KeysetIndexes, Known.KeysetIndexesChecksum)],
            (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Checksum)));
        Assert.Equal(ExpectedSchema.UsersColumns, await Catalog.ColumnsAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Empty((await db.Runner().UpAsync(cancellationToken: Ct)).Steps);
    }

    [Fact]
    public async Task ScriptUpWithAConnectionIncludesOnlyThePendingMigrations()
    {
        await using var db = await TestDb.CreateEmptyAsync("scriptpending", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);

        var result = await CliRunner.RunAsync(["script", "up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("-- 202611220900: keyset pagination indexes", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("CREATE INDEX CONCURRENTLY \"ix_users_created_at_id\" ON \"public\".\"users\" (\"created_at\" ASC,\"id\" ASC);", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("202602282200", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("CREATE TABLE \"public\".\"users\"", result.Stdout, StringComparison.Ordinal);
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct)); // printing changed nothing

        await Psql.RunScriptAsync(db.ConnectionString, result.Stdout, Ct);

        Assert.All(await db.Runner().GetStatusAsync(Ct), s => Assert.Equal(MigrationState.Applied, s.State));
    }

    private static void AssertInOrder(string text, params string[] parts)
    {
        var position = 0;
        foreach (var part in parts)
        {
            var found = text.IndexOf(part, position, StringComparison.Ordinal);
            Assert.True(found >= 0, $"Expected, after position {position}: {part}\nin:\n{text}");
            position = found + part.Length;
        }
    }

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
