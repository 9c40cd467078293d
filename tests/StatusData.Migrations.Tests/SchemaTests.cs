using FluentMigrator;
using StatusData.Migrations.Tests.Support;

namespace StatusData.Migrations.Tests;

/// <summary>What the migrations create, read straight from pg_catalog and compared with a hand-written list.</summary>
public sealed class SchemaTests
{
    [Fact]
    public async Task UpToTheFirstVersionCreatesExactlyTheSchemaOfAlembicRevisionA1b2c3d4e5f6()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("schema1", ct);

        var result = await db.Runner().UpAsync(Known.Initial, ct);

        Assert.Equal([Known.Initial], result.Steps.Select(s => s.Version));
        Assert.Equal(Known.Initial, result.CurrentVersion);
        Assert.Equal(ExpectedSchema.UsersColumns, await Catalog.ColumnsAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesColumns, await Catalog.ColumnsAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(ExpectedSchema.UsersConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(ExpectedSchema.UsersIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));

        // No server-side defaults anywhere (the Python models set them in the application), and no
        // relation other than the two tables and the version table: no sequences, views or stray tables.
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_attrdef", ct));
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(ct));
        Assert.Equal(
            ["public"],
            await db.ScalarAsync<string[]>("SELECT array_agg(nspname::text ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'", ct));
    }

    [Fact]
    public async Task UpToTheLatestVersionAddsTheFourKeysetIndexesAndNothingElse()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await TestDb.CreateEmptyAsync("schema2", ct);
        var runner = db.Runner();
        await runner.UpAsync(Known.Initial, ct);

        var result = await runner.UpAsync(cancellationToken: ct);

        Assert.Equal([(Known.KeysetIndexes, MigrationDirection.Up)], result.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(Known.KeysetIndexes, result.CurrentVersion);
        Assert.Equal(ExpectedSchema.UsersIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(ExpectedSchema.UsersColumns, await Catalog.ColumnsAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesColumns, await Catalog.ColumnsAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(ExpectedSchema.UsersConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.users", ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.status_updates", ct));
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(ct));
    }
}
