using StatusData.Migrations.Tests.Support;

namespace StatusData.Migrations.Tests;

public sealed class FailingMigrationTests
{
    private static StatusDataMigratorOptions WithFailingMigration() =>
        new() { Migrations = [.. Known.BuiltIn(), new FailingMigration()] };

    [Fact]
    public async Task AFailingMigrationLeavesSchemaAndVersionTableAsBefore()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("failing", ct);
        var runner = db.Runner(WithFailingMigration());
        await runner.UpAsync(Known.KeysetIndexes, ct);
        var schemaBefore = await db.SnapshotAsync(ct);
        var rowsBefore = await db.VersionRowsAsync(ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: ct));

        Assert.Equal(MigrationFailure.MigrationFailed, e.Failure);
        Assert.Contains(FailingMigration.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("division by zero", e.Message, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("should_not_exist", ct));
        Assert.Equal(schemaBefore, await db.SnapshotAsync(ct));
        Assert.Equal(rowsBefore, await db.VersionRowsAsync(ct));
        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Applied), (FailingMigration.Version, MigrationState.Pending)],
            (await runner.GetStatusAsync(ct)).Select(s => (s.Version, s.State)));
    }

    [Fact]
    public async Task MigrationsBeforeAFailingOneInTheSameRunStayApplied()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("failingrun", ct);
        var runner = db.Runner(WithFailingMigration());

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: ct));

        Assert.Equal(MigrationFailure.MigrationFailed, e.Failure);
        Assert.Contains("202612010000", e.Message, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("should_not_exist", ct));
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Applied), (FailingMigration.Version, MigrationState.Pending)],
            (await runner.GetStatusAsync(ct)).Select(s => (s.Version, s.State)));
    }
}
