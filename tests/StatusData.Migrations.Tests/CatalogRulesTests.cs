using FluentMigrator;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations.Tests;

/// <summary>Checksums and ordering: what counts as a change, and what happens to a late-merged migration.</summary>
public sealed class CatalogRulesTests
{
    [Fact]
    public void TheChecksumIgnoresLineEndingsAndSurroundingBlanksButNotTheSql()
    {
        static string ChecksumOf(IMigration migration) => MigrationCatalog.Create([migration]).Migrations[0].Checksum;

        Assert.Equal(ChecksumOf(new LfMigration()), ChecksumOf(new CrlfMigration()));
        // SHA-256 of "CREATE TABLE probe (\n    id integer NOT NULL\n)", the statement FluentMigrator passes through.
        Assert.Equal("9134a10590f06f13900c6309e2d6654ea4df822837a9e7caac29c86e0b603519", ChecksumOf(new LfMigration()));
        Assert.NotEqual(ChecksumOf(new LfMigration()), ChecksumOf(new ChangedMigration()));
    }

    [Fact]
    public void AVersionThatIsNotATimestampOrAnEmptyDescriptionIsRejected()
    {
        const string unreachable = "Host=127.0.0.1;Port=1";

        var version = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(unreachable, new StatusDataMigratorOptions { Migrations = [new NotATimestampMigration()] }));
        var description = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(unreachable, new StatusDataMigratorOptions { Migrations = [new BlankDescriptionMigration()] }));
        var duplicate = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(unreachable, new StatusDataMigratorOptions { Migrations = [new LfMigration(), new ChangedMigration()] }));

        Assert.Contains("yyyyMMddHHmm", version.Message, StringComparison.Ordinal);
        Assert.Contains("description", description.Message, StringComparison.Ordinal);
        Assert.Contains("Two migrations share version 202604010000", duplicate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMigrationOlderThanTheNewestAppliedOneIsAppliedOnceWithAWarning()
    {
        await using var db = await TestDb.CreateEmptyAsync("outoforder", Ct);
        await db.Runner().UpAsync(cancellationToken: Ct);
        var log = new FakeLogger();
        var runner = new StatusDataMigrator(db.ConnectionString, new StatusDataMigratorOptions { Migrations = [.. Known.BuiltIn(), new LateMigration()] }, log);

        var first = await runner.UpAsync(cancellationToken: Ct);
        var second = await runner.UpAsync(cancellationToken: Ct);

        Assert.Equal([LateMigration.Version], first.Steps.Select(s => s.Version));
        Assert.Equal(Known.KeysetIndexes, first.CurrentVersion);
        Assert.Empty(second.Steps);
        Assert.Equal([Known.Initial, LateMigration.Version, Known.KeysetIndexes], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));
        Assert.Equal("registered accounts", await db.ScalarAsync<string>("SELECT obj_description('public.users'::regclass, 'pg_class')", Ct));
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning && e.Message == "Applying migration 202603010000 out of order: 202611220900 is already applied");
    }
}
