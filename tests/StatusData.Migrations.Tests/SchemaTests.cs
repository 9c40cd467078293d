using FluentMigrator;

namespace StatusData.Migrations.Tests;

/// <summary>What the migrations create, read straight from pg_catalog and compared with a hand-written list.</summary>
public sealed class SchemaTests
{
    [Fact]
    public async Task UpToTheFirstVersionCreatesExactlyTheSchemaOfAlembicRevisionA1b2c3d4e5f6()
    {
        await using var db = await TestDb.CreateEmptyAsync("schema1", Ct);

        var result = await db.Runner().UpAsync(Known.Initial, Ct);

        Assert.Equal([Known.Initial], result.Steps.Select(s => s.Version));
        Assert.Equal(Known.Initial, result.CurrentVersion);
        await AssertTablesAsync(db, ExpectedSchema.UsersIndexesAtInitial, ExpectedSchema.StatusUpdatesIndexesAtInitial);

        // No server-side defaults anywhere (the Python models set them in the application), and no
        // relation other than the two tables and the version table: no sequences, views or stray tables.
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_attrdef", Ct));
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(Ct));
        Assert.Equal(
            ["public"],
            await db.ScalarAsync<string[]>("SELECT array_agg(nspname::text ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'", Ct));
    }

    [Fact]
    public async Task UpToTheLatestVersionAddsTheFourKeysetIndexesAndNothingElse()
    {
        await using var db = await TestDb.CreateEmptyAsync("schema2", Ct);
        var runner = db.Runner();
        await runner.UpAsync(Known.Initial, Ct);

        var result = await runner.UpAsync(cancellationToken: Ct);

        Assert.Equal([(Known.KeysetIndexes, MigrationDirection.Up)], result.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(Known.KeysetIndexes, result.CurrentVersion);
        await AssertTablesAsync(db, ExpectedSchema.UsersIndexesAtLatest, ExpectedSchema.StatusUpdatesIndexesAtLatest);
        Assert.Equal(ExpectedSchema.ManagedRelations, await db.RelationsAsync(Ct));
    }

    /// <summary>Both tables' columns and constraints as the first migration creates them, with the given indexes.</summary>
    private static async Task AssertTablesAsync(TestDb db, IReadOnlyList<IndexFact> usersIndexes, IReadOnlyList<IndexFact> statusUpdatesIndexes)
    {
        Assert.Equal(ExpectedSchema.UsersColumns, await Catalog.ColumnsAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesColumns, await Catalog.ColumnsAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal(ExpectedSchema.UsersConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesConstraints, await Catalog.ConstraintsAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal(usersIndexes, await Catalog.IndexesAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(statusUpdatesIndexes, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }
}
