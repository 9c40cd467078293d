namespace StatusData.Migrations.Tests;

/// <summary>
/// Databases the runner before FluentMigrator migrated (same version_info, checksums of its hand-written
/// SQL) keep working with no manual step: the first locked run rewrites their checksums, once.
/// </summary>
public sealed class TakeOverTests
{
    private static readonly string LegacyScript = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sql", "legacy_runner_202611220900.sql"));

    /// <summary>The legacy script up to (not including) its block for 202611220900: a database it left at 202602282200.</summary>
    private static string LegacyScriptUpToInitial => LegacyScript[..LegacyScript.IndexOf("-- 202611220900:", StringComparison.Ordinal)];

    [Fact]
    public async Task AFullyMigratedLegacyDatabaseIsTakenOverWithoutRunningAnything()
    {
        await using var db = await TestDb.CreateEmptyAsync("takeover", Ct);
        await db.ExecuteAsync(LegacyScript, Ct);
        var schemaBefore = await db.SnapshotAsync(Ct);
        var appliedOnBefore = (await db.VersionRowsAsync(Ct)).Select(r => r.AppliedOn).ToList();
        Assert.Equal(
            [Known.LegacyInitialChecksum, Known.LegacyKeysetIndexesChecksum],
            (await db.VersionRowsAsync(Ct)).Select(r => r.Checksum));

        // Read-only: status reports the legacy rows as applied (not drifted) and writes nothing.
        Assert.All(await db.Runner().GetStatusAsync(Ct), s => Assert.Equal(MigrationState.Applied, s.State));
        var alembic = await db.Runner().GetAlembicStatusAsync(Ct);
        Assert.Equal((false, 0, "a1b2c3d4e5f6", (string?)null), (alembic.TableExists, alembic.Revisions.Count, alembic.Expected, alembic.Disagreement));
        Assert.Equal(Known.LegacyInitialChecksum, (await db.VersionRowsAsync(Ct))[0].Checksum);
        Assert.False(await db.TableExistsAsync("public.alembic_version", Ct));

        var result = await db.Runner().UpAsync(cancellationToken: Ct);

        Assert.Empty(result.Steps);
        Assert.Equal(Known.KeysetIndexes, result.CurrentVersion);
        var rows = await db.VersionRowsAsync(Ct);
        Assert.Equal(
            [(Known.Initial, Known.InitialDescription, Known.InitialChecksum), (Known.KeysetIndexes, Known.KeysetIndexesDescription, Known.KeysetIndexesChecksum)],
            rows.Select(r => (r.Version, r.Description, r.Checksum)));
        Assert.Equal(appliedOnBefore, rows.Select(r => r.AppliedOn));

        // The old runner never wrote alembic_version; the take-over records the revision version_info implies,
        // so the Python side's Alembic sees the schema it has. Nothing else changed.
        Assert.Equal("a1b2c3d4e5f6", await db.ScalarAsync<string>("SELECT string_agg(version_num, ',') FROM alembic_version", Ct));
        Assert.Equal(schemaBefore, (await db.SnapshotAsync(Ct)).Where(line => !line.Contains("public.alembic_version", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AHalfMigratedLegacyDatabaseIsTakenOverAndMigratedOnByTheCli()
    {
        await using var db = await TestDb.CreateEmptyAsync("takeoverhalf", Ct);
        await db.ExecuteAsync(LegacyScriptUpToInitial, Ct);
        Assert.Equal([(Known.Initial, Known.LegacyInitialChecksum)], (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Checksum)));

        var up = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Matches(@"(?m)^applied\s+202611220900\b", up.Stdout);
        Assert.DoesNotMatch(@"(?m)^applied\s+202602282200\b", up.Stdout);
        Assert.Contains("checksum(s) rewritten", up.Stderr, StringComparison.Ordinal);
        Assert.Equal(
            [(Known.Initial, Known.InitialChecksum), (Known.KeysetIndexes, Known.KeysetIndexesChecksum)],
            (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Checksum)));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    /// <summary>202611220900 once built its indexes without CONCURRENTLY, in one transaction: same indexes, another checksum.</summary>
    [Fact]
    public async Task ADatabaseThatRecordedTheTransactionalIndexBuildIsTakenOverWithoutAllowDrift()
    {
        await using var db = await TestDb.CreateMigratedAsync("takeovertx", Ct);
        await db.ExecuteAsync($"UPDATE version_info SET checksum = '{Known.TransactionalKeysetIndexesChecksum}' WHERE version = {Known.KeysetIndexes}", Ct);
        var schemaBefore = await db.SnapshotAsync(Ct);

        Assert.All(await db.Runner().GetStatusAsync(Ct), s => Assert.Equal(MigrationState.Applied, s.State));
        var result = await db.Runner().UpAsync(cancellationToken: Ct);

        Assert.Empty(result.Steps);
        Assert.Equal(
            [(Known.Initial, Known.InitialChecksum), (Known.KeysetIndexes, Known.KeysetIndexesChecksum)],
            (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Checksum)));
        Assert.Equal(schemaBefore, await db.SnapshotAsync(Ct));
    }

    [Fact]
    public async Task ALegacyRowWhoseChecksumIsNeitherOldNorNewIsStillDrift()
    {
        await using var db = await TestDb.CreateEmptyAsync("takeoverdrift", Ct);
        await db.ExecuteAsync(LegacyScript, Ct);
        await db.ExecuteAsync($"UPDATE version_info SET checksum = '{new string('0', 64)}' WHERE version = {Known.KeysetIndexes}", Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => db.Runner().UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("202611220900 (keyset pagination indexes)", e.Message, StringComparison.Ordinal);
        // The refusal changed nothing: the other row keeps its legacy checksum, and no alembic_version appeared.
        Assert.Equal([Known.LegacyInitialChecksum, new string('0', 64)], (await db.VersionRowsAsync(Ct)).Select(r => r.Checksum));
        Assert.False(await db.TableExistsAsync("public.alembic_version", Ct));
    }
}
