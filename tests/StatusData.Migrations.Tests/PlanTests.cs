using System.Text.Json;

namespace StatusData.Migrations.Tests;

/// <summary><c>statusdata-migrate plan</c> and <see cref="StatusDataMigrator.PlanAsync"/>: what up would do, and what it would lock, before it runs.</summary>
public sealed class PlanTests
{
    private static readonly (string Index, string Table)[] KeysetIndexes =
    [
        ("ix_status_updates_created_at_id", "status_updates"),
        ("ix_status_updates_user_id_created_at_id", "status_updates"),
        ("ix_status_updates_category_created_at_id", "status_updates"),
        ("ix_users_created_at_id", "users"),
    ];

    [Fact]
    public async Task PlanAtTheInitialVersionShowsTheConcurrentBuildsOutsideATransactionAndChangesNothing()
    {
        await using var db = await TestDb.CreateEmptyAsync("planinitial", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        var before = await db.SnapshotAsync(Ct);

        var plan = await db.Runner().PlanAsync(cancellationToken: Ct);

        Assert.Equal(Known.Initial, plan.CurrentVersion);
        Assert.Equal(Known.KeysetIndexes, plan.TargetVersion);
        var migration = Assert.Single(plan.Migrations);
        Assert.Equal(Known.KeysetIndexes, migration.Version);
        Assert.Equal(Known.KeysetIndexesDescription, migration.Description);
        Assert.False(migration.InTransaction);
        Assert.Empty(migration.RuleViolations);
        Assert.Equal(KeysetIndexes.Length + 1, migration.Statements.Count);
        for (var i = 0; i < KeysetIndexes.Length; i++)
        {
            var (index, table) = KeysetIndexes[i];
            var statement = migration.Statements[i];
            Assert.StartsWith($"CREATE INDEX CONCURRENTLY \"{index}\" ON ", statement.Sql, StringComparison.Ordinal);
            var planned = Assert.Single(statement.Locks);
            Assert.Equal("SHARE UPDATE EXCLUSIVE", planned.Mode);
            Assert.Equal(table, planned.Table);
            Assert.Equal($"blocks neither reads nor writes of {table}; waits for transactions already using it", planned.Effect);
        }

        var versionRow = migration.Statements[^1];
        Assert.Equal(
            $"INSERT INTO \"public\".\"version_info\" (\"version\",\"applied_on\",\"description\",\"checksum\") VALUES (202611220900,now(),'keyset pagination indexes','{Known.KeysetIndexesChecksum}')",
            versionRow.Sql);
        var rowLock = Assert.Single(versionRow.Locks);
        Assert.Equal(("ROW EXCLUSIVE", "version_info"), (rowLock.Mode, rowLock.Table));
        Assert.Contains("row locks on the rows it writes only", rowLock.Effect, StringComparison.Ordinal);

        // Planning changed nothing: the same version rows, the same relations (no index was built).
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
        Assert.Equal(before, await db.SnapshotAsync(Ct));
    }

    [Fact]
    public async Task PlanOnAnEmptyDatabaseShowsBothMigrationsTheFirstInATransactionCreatingNewTables()
    {
        await using var db = await TestDb.CreateEmptyAsync("planempty", Ct);

        var plan = await db.Runner().PlanAsync(cancellationToken: Ct);

        Assert.Equal(0, plan.CurrentVersion);
        Assert.Equal(Known.Both, plan.Migrations.Select(m => (m.Version, m.Description)).ToList());
        var initial = plan.Migrations[0];
        Assert.True(initial.InTransaction);
        Assert.False(plan.Migrations[1].InTransaction);
        Assert.Empty(initial.RuleViolations);
        var creates = initial.Statements.Where(s => s.Sql.StartsWith("CREATE TABLE ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["users", "status_updates"], creates.Select(s => Assert.Single(s.Locks).Table));
        Assert.All(creates, s => Assert.Equal(("ACCESS EXCLUSIVE", "new table: nobody else uses it yet"), (s.Locks[0].Mode, s.Locks[0].Effect)));

        // 202602282200 mirrors Alembic's a1b2c3d4e5f6: its version row also records that revision.
        var bookkeeping = initial.Statements[^1];
        Assert.StartsWith("INSERT INTO \"public\".\"version_info\"", bookkeeping.Sql, StringComparison.Ordinal);
        Assert.Contains("alembic_version", bookkeeping.Sql, StringComparison.Ordinal);
        Assert.Equal(["version_info", "alembic_version"], bookkeeping.Locks.Select(l => l.Table));

        Assert.False(await db.TableExistsAsync("public.version_info", Ct)); // planning created nothing
        Assert.Empty(await db.RelationsAsync(Ct));
    }

    [Fact]
    public async Task ThePlanCommandPrintsTextAndJsonWithTheSameFacts()
    {
        await using var db = await TestDb.CreateEmptyAsync("plancli", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);

        var text = await CliRunner.RunAsync(["plan"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var json = await CliRunner.RunAsync(["plan", "--json"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.DoesNotContain("error", text.Stderr, StringComparison.Ordinal);
        var lines = text.Stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal("database is at 202602282200; up to 202611220900 would apply 1 migration:", lines[0]);
        Assert.Contains("202611220900  keyset pagination indexes", lines);
        Assert.Contains(lines, l => l.StartsWith("  outside a transaction: each statement commits on its own", StringComparison.Ordinal));
        Assert.Contains("  1. CREATE INDEX CONCURRENTLY \"ix_status_updates_created_at_id\" ON \"public\".\"status_updates\" (\"created_at\" ASC,\"id\" ASC)", lines);
        Assert.Contains("     SHARE UPDATE EXCLUSIVE on status_updates: blocks neither reads nor writes of status_updates; waits for transactions already using it", lines);
        Assert.Contains("     SHARE UPDATE EXCLUSIVE on users: blocks neither reads nor writes of users; waits for transactions already using it", lines);
        Assert.Contains(lines, l => l.StartsWith("  5. INSERT INTO \"public\".\"version_info\"", StringComparison.Ordinal));

        using var parsed = JsonDocument.Parse(json.Stdout);
        var root = parsed.RootElement;
        Assert.Equal(Known.Initial, root.GetProperty("currentVersion").GetInt64());
        Assert.Equal(Known.KeysetIndexes, root.GetProperty("targetVersion").GetInt64());
        var migration = Assert.Single(root.GetProperty("migrations").EnumerateArray());
        Assert.Equal(Known.KeysetIndexes, migration.GetProperty("version").GetInt64());
        Assert.False(migration.GetProperty("inTransaction").GetBoolean());
        Assert.Equal(0, migration.GetProperty("ruleViolations").GetArrayLength());
        var statements = migration.GetProperty("statements").EnumerateArray().ToList();
        Assert.Equal(5, statements.Count);
        Assert.Equal(
            KeysetIndexes.Select(k => ((string?)"SHARE UPDATE EXCLUSIVE", (string?)k.Table)),
            statements.Take(4).Select(s => Assert.Single(s.GetProperty("locks").EnumerateArray())).Select(l => (l.GetProperty("mode").GetString(), l.GetProperty("table").GetString())));
        foreach (var statement in statements)
        {
            // The text shows every statement's SQL the JSON carries.
            Assert.Contains(statement.GetProperty("sql").GetString()!.Split('\n')[0], text.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
    }

    [Fact]
    public async Task PlanOnAMigratedDatabaseHasNothingToApply()
    {
        await using var db = await TestDb.CreateMigratedAsync("plandone", Ct);

        var plan = await db.Runner().PlanAsync(cancellationToken: Ct);
        var text = await CliRunner.RunAsync(["plan"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.Empty(plan.Migrations);
        Assert.Equal(Known.KeysetIndexes, plan.CurrentVersion);
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Equal("nothing to apply; database is at 202611220900", text.Stdout.Trim());
    }
}
