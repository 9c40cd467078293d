namespace StatusData.Migrations.Tests.Alembic;

/// <summary>
/// The schema co-owned with the Python side's Alembic, proven with the real Alembic (tests/PythonApp):
/// the same catalog fact by fact, either tool going first, down and up on both sides, and what each
/// side records.
/// </summary>
public sealed class AlembicCoOwnershipTests
{
    [Fact]
    public async Task AlembicAndStatusDataCreateTheSameCatalogFactByFact()
    {
        await using var alembic = await TestDb.CreateEmptyAsync("alembicparity", Ct);
        await using var ours = await TestDb.CreateEmptyAsync("oursparity", Ct);

        await Succeeds(PythonApp.AlembicAsync(alembic.ConnectionString, "upgrade", "head"));
        await ours.Runner().UpAsync(Known.Initial, Ct);

        // Every schema, relation, column (type, nullability, default), constraint (name, kind, columns,
        // references, actions) and index (name, columns, uniqueness, method), alembic_version included.
        var alembicCatalog = await alembic.SnapshotAsync(Ct);
        Assert.Equal(alembicCatalog, WithoutVersionInfo(await ours.SnapshotAsync(Ct)));
        Assert.Contains("public.users ConstraintFact { Name = users_email_key, Type = u, Columns = email, References = , OnDelete = , OnUpdate = , Deferrable = False }", alembicCatalog);
        Assert.Equal("a1b2c3d4e5f6", await AlembicRowsAsync(ours));
    }

    [Fact]
    public async Task AfterStatusDataGoesFirstAlembicIsAtHeadUpgradesNothingAndCanDowngrade()
    {
        await using var db = await TestDb.CreateEmptyAsync("oursfirst", Ct);
        var up = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        Assert.True(up.ExitCode == 0, up.ToString());
        var migrated = await db.SnapshotAsync(Ct);

        var current = await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "current"));
        var upgrade = await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "upgrade", "head"));

        Assert.Equal("a1b2c3d4e5f6 (head)", current.Stdout.Trim());
        Assert.DoesNotContain("Running upgrade", upgrade.Stderr, StringComparison.Ordinal);
        Assert.Equal(migrated, await db.SnapshotAsync(Ct));

        var downgrade = await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "downgrade", "base"));

        Assert.Contains("Running downgrade a1b2c3d4e5f6 -> , initial users and status_updates", downgrade.Stderr, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("public.users", Ct));
        Assert.Equal(string.Empty, await AlembicRowsAsync(db));
    }

    [Fact]
    public async Task WhenAlembicDowngradedBehindOurBackStatusSaysSoAndUpRefusesUntilTheRecordsAreFixed()
    {
        await using var db = await TestDb.CreateEmptyAsync("behindback", Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);
        await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "downgrade", "base"));
        var before = await db.SnapshotAsync(Ct);

        var status = await CliRunner.RunAsync(["status"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var up = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Matches(@"(?m)^202602282200\s+reverted-by-alembic\s", status.Stdout);
        Assert.Matches(@"(?m)^202611220900\s+reverted-by-alembic\s", status.Stdout);
        Assert.Contains("alembic_version: base (no revision); DISAGREES with version_info (expects a1b2c3d4e5f6)", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("warn: alembic_version says base (no revision), but version_info implies a1b2c3d4e5f6 (migration 202602282200): the Python side has downgraded", status.Stderr, StringComparison.Ordinal);
        Assert.True(up.ExitCode == 3, up.ToString());
        Assert.Contains("DELETE FROM version_info WHERE version > 0;", up.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync(Ct));

        // Doing what the message says (the downgrade was meant): up recreates the schema, and Alembic agrees again.
        await db.ExecuteAsync("DELETE FROM version_info WHERE version > 0", Ct);
        var again = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal("a1b2c3d4e5f6 (head)", (await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "current"))).Stdout.Trim());
    }

    [Fact]
    public async Task AfterAlembicGoesFirstBaselineWithoutAVersionAdoptsItAndUpAddsTheRest()
    {
        await using var db = await TestDb.CreateEmptyAsync("alembicfirst", Ct);
        await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "upgrade", "head"));

        var refused = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var status = await CliRunner.RunAsync(["status"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var baseline = await CliRunner.RunAsync(["baseline"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var up = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(refused.ExitCode == 3, refused.ToString());
        Assert.Contains("the Python side applied a1b2c3d4e5f6 (mirrored by migration 202602282200) first", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("alembic_version: a1b2c3d4e5f6; DISAGREES with version_info (expects base)", status.Stdout, StringComparison.Ordinal);
        Assert.True(baseline.ExitCode == 0, baseline.ToString());
        Assert.Contains("migrations up to 202602282200 are recorded", baseline.Stdout, StringComparison.Ordinal);
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Matches(@"(?m)^applied\s+202611220900\b", up.Stdout);
        Assert.DoesNotMatch(@"(?m)^applied\s+202602282200\b", up.Stdout);
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal("a1b2c3d4e5f6 (head)", (await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "current"))).Stdout.Trim());
        var upgrade = await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "upgrade", "head"));
        Assert.DoesNotContain("Running upgrade", upgrade.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DownAndUpAreSymmetricOnBothSidesAndEitherSideCanUndoTheOther()
    {
        await using var db = await TestDb.CreateEmptyAsync("symmetric", Ct);

        // Alembic alone: upgrade, downgrade, upgrade gives the same catalog.
        await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "upgrade", "head"));
        var alembicAtHead = await db.SnapshotAsync(Ct);
        await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "downgrade", "base"));
        var alembicAtBase = await db.SnapshotAsync(Ct);
        await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "upgrade", "head"));
        Assert.Equal(alembicAtHead, await db.SnapshotAsync(Ct));

        // Adopted by StatusData, taken to its latest version and all the way down again: Alembic's base.
        Assert.Equal(Known.Initial, await db.Runner().BaselineAsync(cancellationToken: Ct));
        await db.Runner().UpAsync(cancellationToken: Ct);
        await db.Runner().DownAsync(0, Ct);
        Assert.Equal(alembicAtBase, WithoutVersionInfo(await db.SnapshotAsync(Ct)));
        Assert.Equal(string.Empty, (await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "current"))).Stdout.Trim());

        // Up again from StatusData: Alembic's head, as if Alembic had upgraded.
        await db.Runner().UpAsync(Known.Initial, Ct);
        Assert.Equal(alembicAtHead, WithoutVersionInfo(await db.SnapshotAsync(Ct)));
        Assert.Equal("a1b2c3d4e5f6 (head)", (await Succeeds(PythonApp.AlembicAsync(db.ConnectionString, "current"))).Stdout.Trim());
    }

    /// <summary>
    /// What `alembic revision --autogenerate` proposes against a database at StatusData's latest version:
    /// dropping the keyset indexes when the models do not declare them, nothing when they do
    /// (tests/PythonApp/app/statusdata_indexes.py, the snippet docs/migrations.md gives).
    /// </summary>
    [Fact]
    public async Task AutogenerateProposesDroppingOurIndexesUnlessTheModelsDeclareThem()
    {
        await using var db = await TestDb.CreateEmptyAsync("autogenerate", Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);
        var work = Directory.CreateTempSubdirectory("statusdata-alembic-");
        try
        {
            var plain = PythonApp.CopyTo(Path.Combine(work.FullName, "plain"));
            var declared = PythonApp.CopyTo(Path.Combine(work.FullName, "declared"));

            var proposal = await AutogenerateAsync(plain, db.ConnectionString, null);
            var none = await AutogenerateAsync(declared, db.ConnectionString, new Dictionary<string, string> { ["STATUSDATA_MODEL_INDEXES"] = "1" });

            Assert.Equal(
                [
                    "op.drop_index('ix_status_updates_category_created_at_id', table_name='status_updates')",
                    "op.drop_index('ix_status_updates_created_at_id', table_name='status_updates')",
                    "op.drop_index('ix_status_updates_user_id_created_at_id', table_name='status_updates')",
                    "op.drop_index('ix_users_created_at_id', table_name='users')",
                ],
                Operations(Upgrade(proposal)));
            Assert.Empty(Operations(Upgrade(none)));
            Assert.Contains("pass", Upgrade(none), StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<string> AutogenerateAsync(string app, string connectionString, IReadOnlyDictionary<string, string>? environment)
    {
        var result = await Succeeds(PythonApp.AlembicAsync(app, connectionString, environment, "revision", "--autogenerate", "-m", "probe"));
        var file = Directory.GetFiles(Path.Combine(app, "alembic", "versions"), "*_probe.py").Single();
        Assert.Contains(Path.GetFileName(file), result.Stdout + result.Stderr, StringComparison.Ordinal);
        return await File.ReadAllTextAsync(file);
    }

    private static string Upgrade(string revision) =>
        revision[revision.IndexOf("def upgrade():", StringComparison.Ordinal)..revision.IndexOf("def downgrade():", StringComparison.Ordinal)];

    private static List<string> Operations(string body) =>
        body.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("op.", StringComparison.Ordinal)).ToList();

    private static List<string> WithoutVersionInfo(IEnumerable<string> snapshot) =>
        snapshot.Where(line => !line.Contains("public.version_info", StringComparison.Ordinal)).ToList();

    private static Task<string> AlembicRowsAsync(TestDb db) =>
        db.ScalarAsync<string>("SELECT coalesce(string_agg(version_num, ','), '') FROM alembic_version", Ct);

    private static async Task<ProcessResult> Succeeds(Task<ProcessResult> run)
    {
        var result = await run;
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }
}
