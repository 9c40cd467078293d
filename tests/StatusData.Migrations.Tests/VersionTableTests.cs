namespace StatusData.Migrations.Tests;

public sealed class VersionTableTests
{
    [Fact]
    public async Task UpRecordsEachVersionWithItsDescriptionTimeAndUpSqlChecksum()
    {
        await using var db = await TestDb.CreateEmptyAsync("versiontable", Ct);
        var before = await db.ScalarAsync<DateTime>("SELECT clock_timestamp()", Ct);

        await db.Runner().UpAsync(cancellationToken: Ct);

        var after = await db.ScalarAsync<DateTime>("SELECT clock_timestamp()", Ct);
        Assert.Equal(
            [
                new ColumnFact("version", "bigint", NotNull: true),
                new ColumnFact("applied_on", "timestamp with time zone", NotNull: true),
                new ColumnFact("description", "character varying(1024)", NotNull: true),
                new ColumnFact("checksum", "character(64)", NotNull: true),
            ],
            await Catalog.ColumnsAsync(db.DataSource, "public.version_info", Ct));
        Assert.Equal([new ConstraintFact("version_info_pkey", "p", "version")], await Catalog.ConstraintsAsync(db.DataSource, "public.version_info", Ct));
        Assert.Equal([new IndexFact("version_info_pkey", "version", Unique: true, Primary: true)], await Catalog.IndexesAsync(db.DataSource, "public.version_info", Ct));

        var rows = await db.VersionRowsAsync(Ct);
        Assert.Equal(
            [
                (Known.Initial, Known.InitialDescription, Known.InitialChecksum),
                (Known.KeysetIndexes, Known.KeysetIndexesDescription, Known.KeysetIndexesChecksum),
            ],
            rows.Select(r => (r.Version, r.Description, r.Checksum)));
        Assert.All(rows, r => Assert.InRange(r.AppliedOn, before, after));
        Assert.All(rows, r => Assert.Equal(DateTimeKind.Utc, r.AppliedOn.Kind));
    }
}
