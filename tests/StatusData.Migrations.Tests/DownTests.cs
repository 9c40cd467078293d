using FluentMigrator;

namespace StatusData.Migrations.Tests;

/// <summary>Down, rollback and the full round trip.</summary>
public sealed class DownTests
{
    [Fact]
    public async Task UpThenDownToZeroThenUpAgainRecreatesTheSameCatalog()
    {
        await using var db = await TestDb.CreateEmptyAsync("roundtrip", Ct);
        var runner = db.Runner();
        await runner.UpAsync(cancellationToken: Ct);
        var first = await db.SnapshotAsync(Ct);

        var down = await runner.DownAsync(0, Ct);

        Assert.Equal(
            [(Known.KeysetIndexes, MigrationDirection.Down), (Known.Initial, MigrationDirection.Down)],
            down.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(0, down.CurrentVersion);
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(Ct));
        Assert.Empty(await db.VersionRowsAsync(Ct));

        var up = await runner.UpAsync(cancellationToken: Ct);

        Assert.Equal([Known.Initial, Known.KeysetIndexes], up.Steps.Select(s => s.Version));
        var second = await db.SnapshotAsync(Ct);
        Assert.Equal(first, second);
        Assert.Contains("relation public.users", second); // the snapshot is not trivially empty
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }

    [Fact]
    public async Task RollbackOfOneStepRevertsOnlyTheKeysetIndexes()
    {
        await using var db = await TestDb.CreateMigratedAsync("rollback", Ct);
        var runner = db.Runner();

        var result = await runner.RollbackAsync(1, Ct);

        Assert.Equal([(Known.KeysetIndexes, MigrationDirection.Down)], result.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(Known.Initial, result.CurrentVersion);
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(Ct));
        Assert.Equal(ExpectedSchema.UsersIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
    }

    [Fact]
    public async Task DownToAVersionIsIdempotentAndDownToZeroDropsEverything()
    {
        await using var db = await TestDb.CreateMigratedAsync("downidem", Ct);
        var runner = db.Runner();

        var first = await runner.DownAsync(Known.Initial, Ct);
        var afterFirst = await db.SnapshotAsync(Ct);
        var rowsAfterFirst = await db.VersionRowsAsync(Ct);
        var second = await runner.DownAsync(Known.Initial, Ct);

        Assert.Equal([Known.KeysetIndexes], first.Steps.Select(s => s.Version));
        Assert.Empty(second.Steps);
        Assert.Equal(Known.Initial, second.CurrentVersion);
        Assert.Equal(afterFirst, await db.SnapshotAsync(Ct));
        Assert.Equal(rowsAfterFirst, await db.VersionRowsAsync(Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));

        var toZero = await runner.DownAsync(0, Ct);
        var again = await runner.DownAsync(0, Ct);

        Assert.Equal([Known.Initial], toZero.Steps.Select(s => s.Version));
        Assert.Empty(again.Steps);
        Assert.Equal(0, again.CurrentVersion);
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(Ct));
        Assert.Empty(await db.VersionRowsAsync(Ct));
        Assert.All(await runner.GetStatusAsync(Ct), s => Assert.Equal(MigrationState.Pending, s.State));
    }

    [Fact]
    public async Task AnUnknownTargetVersionIsAnInvalidRequestAndChangesNothing()
    {
        await using var db = await TestDb.CreateMigratedAsync("unknowntarget", Ct);
        var runner = db.Runner();
        var before = await db.SnapshotAsync(Ct);

        var down = await Assert.ThrowsAsync<MigrationException>(() => runner.DownAsync(202601010000, Ct));
        var up = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(999, Ct));

        Assert.Equal(MigrationFailure.InvalidRequest, down.Failure);
        Assert.Contains("202601010000", down.Message, StringComparison.Ordinal);
        Assert.Equal(MigrationFailure.InvalidRequest, up.Failure);
        Assert.Contains("999", up.Message, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync(Ct));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }
}
