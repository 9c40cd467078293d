namespace StatusData.Migrations.Tests;

/// <summary>The database is ahead of the code, or an applied migration changed: refuse, and say why.</summary>
public sealed class SafetyCheckTests
{
    [Fact]
    public async Task UpRefusesADatabaseAheadOfTheCode()
    {
        await using var db = await AheadOfTheCodeAsync("ahead");
        var runner = db.Runner();
        var before = await db.SnapshotAsync(Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));
        var status = await runner.GetStatusAsync(Ct);
        var cli = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("203001010000", e.Message, StringComparison.Ordinal);
        Assert.Equal(
            [
                (Known.Initial, MigrationState.Applied),
                (Known.KeysetIndexes, MigrationState.Applied),
                (203001010000L, MigrationState.UnknownToCode),
            ],
            status.Select(s => (s.Version, s.State)));
        Assert.Equal("from a newer build", status[^1].Description);
        Assert.True(cli.ExitCode == 3, cli.ToString());
        Assert.Contains("203001010000", cli.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync(Ct));
        Assert.Equal(3, (await db.VersionRowsAsync(Ct)).Count);
    }

    [Fact]
    public async Task DownRefusesToRevertAVersionTheCodeDoesNotKnow()
    {
        await using var db = await AheadOfTheCodeAsync("aheaddown");
        var runner = db.Runner();
        var before = await db.SnapshotAsync(Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.DownAsync(0, Ct));

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("203001010000", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync(Ct));
        Assert.Equal(3, (await db.VersionRowsAsync(Ct)).Count);
    }

    [Fact]
    public async Task DownRevertsADriftedMigrationWithTheCurrentDownStep()
    {
        await using var db = await TestDb.CreateMigratedAsync("driftdown", Ct);
        var runner = db.Runner();
        await db.ExecuteAsync("UPDATE version_info SET checksum = repeat('0', 64) WHERE version = 202611220900", Ct);

        var result = await runner.DownAsync(Known.Initial, Ct);

        Assert.Equal([Known.KeysetIndexes], result.Steps.Select(s => s.Version));
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    [Fact]
    public async Task UpRefusesWhenAnAppliedMigrationsChecksumChangedUnlessDriftIsAllowed()
    {
        await using var db = await TestDb.CreateEmptyAsync("drift", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        await db.ExecuteAsync("UPDATE version_info SET checksum = repeat('0', 64) WHERE version = 202602282200", Ct);
        var runner = db.Runner();

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
        Assert.Contains("202602282200", e.Message, StringComparison.Ordinal);
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct)); // 202611220900 was not applied
        Assert.Equal(
            [(Known.Initial, MigrationState.ChecksumMismatch), (Known.KeysetIndexes, MigrationState.Pending)],
            (await runner.GetStatusAsync(Ct)).Select(s => (s.Version, s.State)));

        var cliRefused = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        Assert.True(cliRefused.ExitCode == 3, cliRefused.ToString());
        Assert.Contains("--allow-drift", cliRefused.Stderr, StringComparison.Ordinal);

        var allowed = await db.Runner(new StatusDataMigratorOptions { AllowChecksumMismatch = true }).UpAsync(cancellationToken: Ct);

        Assert.Equal([Known.KeysetIndexes], allowed.Steps.Select(s => s.Version));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal(new string('0', 64), (await db.VersionRowsAsync(Ct))[0].Checksum); // allowing drift does not rewrite history

        var cliAllowed = await CliRunner.RunAsync(["up", "--allow-drift"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        Assert.True(cliAllowed.ExitCode == 0, cliAllowed.ToString());
        Assert.Contains("nothing to do; database is at version 202611220900", cliAllowed.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A migrated database that also records 203001010000, applied by a newer build.</summary>
    private static async Task<TestDb> AheadOfTheCodeAsync(string hint)
    {
        var db = await TestDb.CreateMigratedAsync(hint, Ct);
        await db.ExecuteAsync("INSERT INTO version_info (version, applied_on, description, checksum) VALUES (203001010000, now(), 'from a newer build', repeat('a', 64))", Ct);
        return db;
    }
}
