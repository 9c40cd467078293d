using FluentMigrator;
using StatusData.Migrations.Tests.Support;

namespace StatusData.Migrations.Tests;

/// <summary>Down, rollback and the full round trip.</summary>
public sealed class DownTests
{
    [Fact]
    public async Task UpThenDownToZeroThenUpAgainRecreatesTheSameCatalog()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("roundtrip", ct);
        var runner = db.Runner();
        await runner.UpAsync(cancellationToken: ct);
        var first = await db.SnapshotAsync(ct);

        var down = await runner.DownAsync(0, ct);

        Assert.Equal(
            [(Known.KeysetIndexes, MigrationDirection.Down), (Known.Initial, MigrationDirection.Down)],
            down.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(0, down.CurrentVersion);
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(ct));
        Assert.Empty(await db.VersionRowsAsync(ct));

        var up = await runner.UpAsync(cancellationToken: ct);

        Assert.Equal([Known.Initial, Known.KeysetIndexes], up.Steps.Select(s => s.Version));
        var second = await db.SnapshotAsync(ct);
        Assert.Equal(first, second);
        Assert.Contains("relation public.users", second); // the snapshot is not trivially empty
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
    }

    [Fact]
    public async Task RollbackOfOneStepRevertsOnlyTheKeysetIndexes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateMigratedAsync("rollback", ct);
        var runner = db.Runner();

        var result = await runner.RollbackAsync(1, ct);

        Assert.Equal([(Known.KeysetIndexes, MigrationDirection.Down)], result.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(Known.Initial, result.CurrentVersion);
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(ct));
        Assert.Equal(ExpectedSchema.UsersIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(ct));
    }

    [Fact]
    public async Task DownToAVersionIsIdempotentAndDownToZeroDropsEverything()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateMigratedAsync("downidem", ct);
        var runner = db.Runner();

        var first = await runner.DownAsync(Known.Initial, ct);
        var afterFirst = await db.SnapshotAsync(ct);
        var rowsAfterFirst = await db.VersionRowsAsync(ct);
        var second = await runner.DownAsync(Known.Initial, ct);

        Assert.Equal([Known.KeysetIndexes], first.Steps.Select(s => s.Version));
        Assert.Empty(second.Steps);
        Assert.Equal(Known.Initial, second.CurrentVersion);
        Assert.Equal(afterFirst, await db.SnapshotAsync(ct));
        Assert.Equal(rowsAfterFirst, await db.VersionRowsAsync(ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));

        var toZero = await runner.DownAsync(0, ct);
        var again = await runner.DownAsync(0, ct);

        Assert.Equal([Known.Initial], toZero.Steps.Select(s => s.Version));
        Assert.Empty(again.Steps);
        Assert.Equal(0, again.CurrentVersion);
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(ct));
        Assert.Empty(await db.VersionRowsAsync(ct));
        Assert.All(await runner.GetStatusAsync(ct), s => Assert.Equal(MigrationState.Pending, s.State));
    }

    [Fact]
    public async Task AnUnknownTargetVersionIsAnInvalidRequestAndChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateMigratedAsync("unknowntarget", ct);
        var runner = db.Runner();
        var before = await db.SnapshotAsync(ct);

        var down = await Assert.ThrowsAsync<MigrationException>(() => runner.DownAsync(202601010000, ct));
        var up = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(999, ct));

        Assert.Equal(MigrationFailure.InvalidRequest, down.Failure);
        Assert.Contains("202601010000", down.Message, StringComparison.Ordinal);
        Assert.Equal(MigrationFailure.InvalidRequest, up.Failure);
        Assert.Contains("999", up.Message, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync(ct));
        Assert.Equal(Known.Both, await db.VersionsAsync(ct));
    }
}
