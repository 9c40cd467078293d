using FluentMigrator;

namespace StatusData.Migrations.Tests;

/// <summary>Adopting a database that the Python side's Alembic created (revision a1b2c3d4e5f6).</summary>
public sealed class BaselineTests
{
    private static readonly string AlembicSql = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sql", "alembic_a1b2c3d4e5f6.sql"));

    [Fact]
    public async Task UpRefusesADatabaseAlembicCreatedAndChangesNothing()
    {
        await using var db = await AlembicDatabaseAsync("alembicup", AlembicSql);
        var before = await db.SnapshotAsync(Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => db.Runner().UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("baseline 202602282200", e.Message, StringComparison.Ordinal);
        Assert.False(await db.TableExistsAsync("public.version_info", Ct));
        Assert.Equal(before, await db.SnapshotAsync(Ct));
        Assert.Equal(["public.alembic_version", "public.status_updates", "public.users"], await db.RelationsAsync(Ct));
    }

    [Fact]
    public async Task BaselineAdoptsTheAlembicSchemaAndUpThenAppliesOnlyTheKeysetIndexes()
    {
        await using var db = await AlembicDatabaseAsync("alembicbaseline", AlembicSql);
        var runner = db.Runner();

        await runner.BaselineAsync(Known.Initial, Ct);

        Assert.Equal([(Known.Initial, Known.InitialDescription, Known.InitialChecksum)], (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Description, r.Checksum)));
        Assert.Equal(
            [(Known.Initial, MigrationState.Applied), (Known.KeysetIndexes, MigrationState.Pending)],
            (await runner.GetStatusAsync(Ct)).Select(s => (s.Version, s.State)));

        // The scratch schema used to verify the schema is gone; alembic_version is left alone.
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = 'statusdata_baseline_check'", Ct));
        Assert.Equal("a1b2c3d4e5f6", await db.ScalarAsync<string>("SELECT version_num FROM alembic_version", Ct));

        var up = await runner.UpAsync(cancellationToken: Ct);

        Assert.Equal([(Known.KeysetIndexes, MigrationDirection.Up)], up.Steps.Select(s => (s.Version, s.Direction)));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
        Assert.Equal(ExpectedSchema.UsersIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.users", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
    }

    /// <summary>
    /// A schema that differs from the one the migrations create is refused by the library and the CLI,
    /// naming each difference, and nothing is written (not even the check's scratch schema).
    /// </summary>
    [Theory]
    [InlineData("username VARCHAR(50) NOT NULL", "username VARCHAR(60) NOT NULL", "column users.username character varying(60) NOT NULL", "column users.username character varying(50) NOT NULL")]
    [InlineData("REFERENCES users (id)", "REFERENCES users (id) ON DELETE CASCADE", "unexpected: constraint status_updates.status_updates_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE")]
    public async Task BaselineRefusesASchemaThatDiffersFromTheMigrations(string from, string to, params string[] differences)
    {
        await using var db = await AlembicDatabaseAsync("baselinediffers", Replace(AlembicSql, from, to));

        var e = await Assert.ThrowsAsync<MigrationException>(() => db.Runner().BaselineAsync(Known.Initial, Ct));
        var cli = await CliRunner.RunAsync(["baseline", "202602282200"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.True(cli.ExitCode == 3, cli.ToString());
        foreach (var difference in differences)
        {
            Assert.Contains(difference, e.Message, StringComparison.Ordinal);
            Assert.Contains(difference, cli.Stderr, StringComparison.Ordinal);
        }

        Assert.False(await db.TableExistsAsync("public.version_info", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = 'statusdata_baseline_check'", Ct));
    }

    [Fact]
    public async Task BaselineRefusesWhenVersionsAreAlreadyRecorded()
    {
        await using var db = await TestDb.CreateMigratedAsync("baselinerecorded", Ct);
        var runner = db.Runner();
        var rowsBefore = await db.VersionRowsAsync(Ct);

        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.BaselineAsync(Known.Initial, Ct));

        Assert.Equal(MigrationFailure.Refused, e.Failure);
        Assert.Contains("already records 2 applied migration(s)", e.Message, StringComparison.Ordinal);
        Assert.Equal(rowsBefore, await db.VersionRowsAsync(Ct));
    }

    [Fact]
    public async Task CliBaselineAdoptsTheAlembicDatabase()
    {
        await using var db = await AlembicDatabaseAsync("clibaseline", AlembicSql);

        var refused = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var baseline = await CliRunner.RunAsync(["baseline", "202602282200"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(refused.ExitCode == 3, refused.ToString());
        Assert.Contains("baseline 202602282200", refused.Stderr, StringComparison.Ordinal);
        Assert.True(baseline.ExitCode == 0, baseline.ToString());
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));
    }

    private static async Task<TestDb> AlembicDatabaseAsync(string hint, string ddl)
    {
        var db = await TestDb.CreateEmptyAsync(hint, Ct);
        await db.ExecuteAsync(ddl, Ct);
        return db;
    }

    private static string Replace(string sql, string from, string to)
    {
        Assert.Contains(from, sql, StringComparison.Ordinal);
        return sql.Replace(from, to, StringComparison.Ordinal);
    }
}
