using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.ScaleOut;

/// <summary>Class fixture: PgBouncer in transaction mode in front of the run's shared server.</summary>
public sealed class PgBouncerFixture : IAsyncLifetime
{
    private PgBouncerProcess? _bouncer;

    public PgBouncerProcess Bouncer => _bouncer ?? throw new InvalidOperationException("Not initialized.");

    public TestDatabases Databases { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Databases = await SharedPostgres.GetAsync();
        _bouncer = await PgBouncerProcess.StartAsync(Databases.Server.AdminConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (_bouncer is not null)
        {
            await _bouncer.DisposeAsync();
        }
    }

    /// <summary>A new migrated database, and its connection string through PgBouncer.</summary>
    public async Task<string> MigratedThroughBouncerAsync(string hint, CancellationToken cancellationToken)
    {
        var direct = await Databases.CreateMigratedAsync(hint, cancellationToken);
        return Bouncer.ConnectionStringFor(new NpgsqlConnectionStringBuilder(direct).Database!);
    }
}

/// <summary>
/// The library and the migration runner through PgBouncer in transaction mode, with the connection
/// settings docs/scaling.md gives: No Reset On Close=true, Max Auto Prepare=0, PrepareStatements=false.
/// </summary>
public sealed class PgBouncerTests(PgBouncerFixture fixture) : IClassFixture<PgBouncerFixture>
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 6, 10, 12, 0, 0, TimeSpan.Zero));

    private static StatusDataOptions Options => new() { PrepareStatements = false };

    [Fact]
    public async Task TheHarnessRunsPgBouncerInTransactionMode()
    {
        Assert.StartsWith("PgBouncer 1.", fixture.Bouncer.Version, StringComparison.Ordinal);
        // The admin console (SHOW CONFIG) speaks only the simple query protocol, which Npgsql does not use: read the generated file.
        var ini = await File.ReadAllLinesAsync(Path.Combine(fixture.Bouncer.RootDirectory, "pgbouncer.ini"), Ct);
        Assert.Contains("pool_mode = transaction", ini);
        await using var connection = new NpgsqlConnection(fixture.Bouncer.ConnectionStringFor("postgres"));
        await connection.OpenAsync(Ct);
        await using var select = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await select.ExecuteScalarAsync(Ct));

    }

    [Fact]
    public async Task CreatePostWithStreakFeedPagesUserWithUpdatesAndDeleteCascadeWorkThroughPgBouncer()
    {
        await using var dataSource = NpgsqlDataSource.Create(await fixture.MigratedThroughBouncerAsync("bouncercrud", Ct));
        var db = new StatusDatabase(dataSource, Options, _clock);
        var name = Unique.Name("bouncer");
        var user = await db.Users.CreateAsync(name, "Bouncer", Unique.Email(name), "hash", null, Ct);

        await db.StatusUpdates.PostAsync(user.Id, "day one", "work", 10, new DateOnly(2026, 6, 8), Ct);
        await db.StatusUpdates.PostAsync(user.Id, "day two", "work", 10, new DateOnly(2026, 6, 9), Ct);
        var posted = await db.StatusUpdates.PostAsync(user.Id, "day three", "life", 10, new DateOnly(2026, 6, 10), Ct);
        Assert.Equal((30, 3, 3), (posted.Author.Xp, posted.Author.CurrentStreak, posted.Author.LongestStreak));

        var first = await db.StatusUpdates.GetFeedAsync(2, null, Ct);
        var second = await db.StatusUpdates.GetFeedAsync(2, first.Next, Ct);
        Assert.Equal(2, first.Items.Count);
        Assert.Single(second.Items);
        Assert.Equal(3, first.Items.Concat(second.Items).Select(s => s.StatusUpdate.Id).Distinct().Count());

        var withUpdates = await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct);
        Assert.Equal(posted.Author, withUpdates!.User);
        Assert.Equal(3, withUpdates.StatusUpdates.Count);
        Assert.Equal(2, (await db.StatusUpdates.ListByCategoryAsync("work", 10, null, Ct)).Items.Count);
        Assert.Equal(user.Id, (await db.Users.GetLeaderboardAsync(1, Ct)).Single().Id);
        Assert.Equal(user.Id, (await db.Users.GetByUsernameAsync(name, Ct))?.Id);

        Assert.True(await db.Users.DeleteAsync(user.Id, Ct));
        Assert.Null(await db.Users.GetByIdAsync(user.Id, Ct));
        Assert.Empty((await db.StatusUpdates.ListByUserAsync(user.Id, 10, null, Ct)).Items);
        Assert.Null(await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
    }

    [Fact]
    public async Task TransactionsCommitAndRollBackThroughPgBouncer()
    {
        await using var dataSource = NpgsqlDataSource.Create(await fixture.MigratedThroughBouncerAsync("bouncertx", Ct));
        var db = new StatusDatabase(dataSource, Options, _clock);
        var name = Unique.Name("tx");
        var user = await db.Users.CreateAsync(name, "Tx", Unique.Email(name), "hash", null, Ct);

        Guid kept;
        await using (var transaction = await db.BeginTransactionAsync(Ct))
        {
            kept = (await transaction.StatusUpdates.PostAsync(user.Id, "kept", "tx", 1, null, Ct)).StatusUpdate.Id;
            Assert.NotNull(await transaction.StatusUpdates.GetByIdAsync(kept, Ct));
            await transaction.CommitAsync(Ct);
        }

        Guid dropped;
        await using (var transaction = await db.BeginTransactionAsync(Ct))
        {
            dropped = (await transaction.StatusUpdates.PostAsync(user.Id, "dropped", "tx", 1, null, Ct)).StatusUpdate.Id;
            await transaction.Users.UpdateProfileAsync(user.Id, "Changed", user.Email, null, Ct);
            await transaction.RollbackAsync(Ct);
        }

        Assert.NotNull(await db.StatusUpdates.GetByIdAsync(kept, Ct));
        Assert.Null(await db.StatusUpdates.GetByIdAsync(dropped, Ct));
        var after = await db.Users.GetByIdAsync(user.Id, Ct);
        Assert.Equal(("Tx", 1), (after!.DisplayName, after.Xp));
    }

    [Fact]
    public async Task DuplicatesAreDetectedThroughPgBouncer()
    {
        await using var dataSource = NpgsqlDataSource.Create(await fixture.MigratedThroughBouncerAsync("bouncerdup", Ct));
        var db = new StatusDatabase(dataSource, Options, _clock);
        var name = Unique.Name("dup");
        await db.Users.CreateAsync(name, "Dup", Unique.Email(name), "hash", null, Ct);

        var byName = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Dup", Unique.Email(Unique.Name("other")), "hash", null, Ct));
        var byEmail = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(Unique.Name("other"), "Dup", Unique.Email(name), "hash", null, Ct));

        Assert.Equal(("username", "email"), (byName.Field, byEmail.Field));
    }

    [Fact]
    public async Task ManyConcurrentCallersShareTheBouncersFewServerConnections()
    {
        await using var dataSource = NpgsqlDataSource.Create(await fixture.MigratedThroughBouncerAsync("bouncerconc", Ct));
        var db = new StatusDatabase(dataSource, Options, _clock);
        var users = new List<User>();
        for (var i = 0; i < 4; i++)
        {
            var name = Unique.Name("conc");
            users.Add(await db.Users.CreateAsync(name, "Conc", Unique.Email(name), "hash", null, Ct));
        }

        // 32 callers over default_pool_size = 10 server connections: each transaction gets one, in turn.
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(
            async () =>
            {
                for (var n = 0; n < 5; n++)
                {
                    await db.StatusUpdates.PostAsync(users[i % 4].Id, $"#{i}.{n}", "conc", 1, null, Ct);
                    await db.StatusUpdates.GetFeedAsync(10, null, Ct);
                }
            },
            Ct)));

        Assert.Equal(160, (await db.Users.GetLeaderboardAsync(4, Ct)).Sum(u => u.Xp));
    }

    [Fact]
    public async Task FourConcurrentRunnersApplyEachMigrationExactlyOnceThroughPgBouncer()
    {
        var direct = await fixture.Databases.CreateEmptyAsync("bouncermig", Ct);
        var through = fixture.Bouncer.ConnectionStringFor(new NpgsqlConnectionStringBuilder(direct).Database!);
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new StatusDataMigrator(through).UpAsync(cancellationToken: Ct), Ct)));

            var applied = results.SelectMany(r => r.Steps).Select(s => s.Version).Order().ToList();
            var latest = new StatusDataMigrator(through).LatestVersion;
            Assert.All(results, r => Assert.Equal(latest, r.CurrentVersion));
            Assert.Equal(applied.Distinct().Count(), applied.Count);
            await using var connection = new NpgsqlConnection(direct);
            await connection.OpenAsync(Ct);
            await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT version) FROM version_info", connection);
            await using var reader = await count.ExecuteReaderAsync(Ct);
            await reader.ReadAsync(Ct);
            Assert.Equal((long)applied.Count, reader.GetInt64(0));
            Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
            Assert.Equal(2, applied.Count);
        }
    }

    [Fact]
    [Trait("Category", "Slow")] // waits out a one-second lock timeout
    public async Task ALockTimeoutThroughPgBouncerStillNamesTheHolder()
    {
        var direct = await fixture.Databases.CreateEmptyAsync("bouncerlock", Ct);
        await using var holder = await MigrationLock.HoldAsync(direct, "bouncer-lock-holder", Ct);

        var runner = new StatusDataMigrator(fixture.Bouncer.ConnectionStringFor(new NpgsqlConnectionStringBuilder(direct).Database!), new StatusDataMigratorOptions { LockTimeout = TimeSpan.FromSeconds(1) });
        var e = await Assert.ThrowsAsync<MigrationException>(() => runner.UpAsync(cancellationToken: Ct));

        Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
        Assert.Contains($"backend pid {holder.ProcessID} (application 'bouncer-lock-holder'", e.Message, StringComparison.Ordinal);

        await holder.CloseAsync(); // the holder's session ends, and with it the lock

        Assert.Equal(2, (await runner.UpAsync(cancellationToken: Ct)).Steps.Count);
    }
}
