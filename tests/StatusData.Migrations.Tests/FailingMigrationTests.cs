namespace StatusData.Migrations.Tests;

public sealed class FailingMigrationTests
{
    private static StatusDataMigratorOptions WithFailingMigration() =>
        new() { Migrations = [.. Known.BuiltIn(), new FailingMigration()] };

    [Fact]
    public async Task AFailingMigrationLeavesSchemaAndVersionTableAsBefore()
    {
        await using var db = await TestDb.CreateEmptyAsync("failing", Ct);
        var runner = db.Runner(WithFailingMigration());
        await runner.UpAsync(Known.KeysetIndexes, Ct);
        var schemaBefore = await db.SnapshotAsync(Ct);
        var rowsBefore = await db.VersionRowsAsync(Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.MigrationFailed, e.Failure);
        Assert.Contains(FailingMigration.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("division by zero", e.Message, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("should_not_exist", Ct));
        Assert.Equal(schemaBefore, await db.SnapshotAsync(Ct));
        Assert.Equal(rowsBefore, await db.VersionRowsAsync(Ct));
        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Applied), (FailingMigration.Version, MigrationState.Pending)],
            (await runner.GetStatusAsync(Ct)).Select(s => (s.Version, s.State)));
    }

    [Fact]
    public async Task MigrationsBeforeAFailingOneInTheSameRunStayApplied()
    {
        await using var db = await TestDb.CreateEmptyAsync("failingrun", Ct);
        var runner = db.Runner(WithFailingMigration());

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.MigrationFailed, e.Failure);
        Assert.Contains("202612010000", e.Message, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("should_not_exist", Ct));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Applied), (FailingMigration.Version, MigrationState.Pending)],
            (await runner.GetStatusAsync(Ct)).Select(s => (s.Version, s.State)));
    }
}
