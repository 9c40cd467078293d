using System.Data;
using System.Diagnostics;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>
/// 202611220900 builds its indexes with CREATE INDEX CONCURRENTLY, outside a transaction: posts go on during the
/// build, the version row is written only once every index is valid, and whatever a failed or killed build left is
/// finished by the next run. Each build is held open by an old snapshot (a REPEATABLE READ transaction that has read),
/// which a concurrent build waits for in its last phase; a plain CREATE INDEX would not wait for it at all.
/// </summary>
public sealed class ConcurrentIndexTests
{
    internal const string WaitingBuild = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'
        LIMIT 1
        """;

    private const string InvalidIndexes = """
        SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT i.indisvalid ORDER BY 1
        """;

    // A post in the library's shape, as one statement: the author's row in users, then the update.
    private const string Post = """
        WITH author AS (UPDATE users SET xp = xp + 10 WHERE username = 'writer' RETURNING id)
        INSERT INTO status_updates (id, user_id, message, category, created_at)
        SELECT gen_random_uuid(), id, 'during the build', 'general', now() FROM author
        """;

    [Fact]
    public async Task PostsGoOnDuringTheBuildAndTheVersionIsRecordedOnlyOnceEveryIndexIsValid()
    {
        await using var db = await AtInitialWithAWriterAsync("cicposts");
        var (blocker, snapshot) = await OldSnapshotAsync(db);
        await using var blockerScope = blocker;

        var up = db.Runner().UpAsync(cancellationToken: Ct);
        await WaitForAsync(db, WaitingBuild);

        // The build is under way (its index exists, not yet valid), and a post goes through at once.
        var post = Stopwatch.StartNew();
        await using (var command = db.DataSource.CreateCommand(Post))
        {
            command.CommandTimeout = 10;
            Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
        }

        Assert.True(post.Elapsed < TimeSpan.FromSeconds(5), $"a post took {post.Elapsed} during the build");
        Assert.False(up.IsCompleted, "up finished while an older snapshot was open: the build was not concurrent");
        Assert.Equal(["ix_status_updates_created_at_id"], await db.ColumnAsync<string>(InvalidIndexes, Ct));
        Assert.Equal([Known.Initial], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));

        await snapshot.CommitAsync(Ct);
        var result = await up.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal([Known.KeysetIndexes], result.Steps.Select(s => s.Version));
        Assert.Empty(await db.ColumnAsync<string>(InvalidIndexes, Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal([(Known.Initial, Known.InitialChecksum), (Known.KeysetIndexes, Known.KeysetIndexesChecksum)], (await db.VersionRowsAsync(Ct)).Select(r => (r.Version, r.Checksum)));
    }

    [Fact]
    public async Task ARunnerKilledInTheMiddleOfABuildLeavesAnInvalidIndexThatTheNextRunDropsAndBuildsAgain()
    {
        await using var db = await AtInitialWithAWriterAsync("cickill");
        var (blocker, snapshot) = await OldSnapshotAsync(db);
        await using var blockerScope = blocker;

        using var running = CliRunner.Start(["up"], CliRunner.WithConnection(db.ConnectionString));
        var builder = await WaitForAsync(db, WaitingBuild);
        var killed = await running.KillAsync(Ct);
        Assert.DoesNotContain("applied  202611220900", killed.Stdout, StringComparison.Ordinal);

        // PostgreSQL notices a dead client only when it next writes to it: left alone, the build's backend would
        // finish once the old snapshot ends. Ending it, as a restart or an operator would, leaves the build half-done.
        Assert.True(await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1, 20000)", Ct, builder), $"backend {builder} was not terminated");
        await snapshot.CommitAsync(Ct);
        Assert.Equal(["ix_status_updates_created_at_id"], await db.ColumnAsync<string>(InvalidIndexes, Ct));
        Assert.Equal([Known.Initial], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));

        var rerun = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), timeout: TimeSpan.FromSeconds(120), cancellationToken: Ct);

        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains("Index ix_status_updates_created_at_id was left INVALID", rerun.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^applied\s+202611220900\b", rerun.Stdout);
        Assert.Empty(await db.ColumnAsync<string>(InvalidIndexes, Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Equal([Known.Initial, Known.KeysetIndexes], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));
    }

    [Fact]
    public async Task AnIndexAnInterruptedRunFinishedIsKeptAndOneOfTheSameNameButAnotherDefinitionIsAFailure()
    {
        await using var db = await AtInitialWithAWriterAsync("cicleft");
        await db.ExecuteAsync("CREATE INDEX ix_status_updates_user_id_created_at_id ON status_updates (user_id, created_at, id)", Ct);
        var oid = await db.ScalarAsync<long>("SELECT 'ix_status_updates_user_id_created_at_id'::regclass::oid::bigint", Ct);

        var kept = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), timeout: TimeSpan.FromSeconds(120), cancellationToken: Ct);

        Assert.True(kept.ExitCode == 0, kept.ToString());
        Assert.Contains("Index ix_status_updates_user_id_created_at_id was already built", kept.Stderr, StringComparison.Ordinal);
        Assert.Equal(oid, await db.ScalarAsync<long>("SELECT 'ix_status_updates_user_id_created_at_id'::regclass::oid::bigint", Ct));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));

        await using var other = await AtInitialWithAWriterAsync("cicother");
        await other.ExecuteAsync("CREATE INDEX ix_status_updates_created_at_id ON status_updates (category)", Ct);

        var refused = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(other.ConnectionString), timeout: TimeSpan.FromSeconds(120), cancellationToken: Ct);

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("42P07", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("runs outside a transaction", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal([Known.Initial], (await other.VersionRowsAsync(Ct)).Select(r => r.Version));
    }

    [Fact]
    public async Task DownDropsTheIndexesConcurrentlyAndASecondDownFindsNothingToDo()
    {
        await using var db = await TestDb.CreateMigratedAsync("cicdown", Ct);

        var down = await db.Runner().DownAsync(Known.Initial, Ct);

        Assert.Equal([Known.KeysetIndexes], down.Steps.Select(s => s.Version));
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtInitial, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        Assert.Empty((await db.Runner().DownAsync(Known.Initial, Ct)).Steps);
        Assert.Equal([Known.Initial], (await db.VersionRowsAsync(Ct)).Select(r => r.Version));
    }

    /// <summary>A database at 202602282200 with one user, 'writer'.</summary>
    internal static async Task<TestDb> AtInitialWithAWriterAsync(string hint)
    {
        var db = await TestDb.CreateEmptyAsync(hint, Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        await db.ExecuteAsync(
            """
            INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, created_at)
            VALUES (gen_random_uuid(), 'writer', 'Writer', 'writer@example.com', 'x', 0, 0, 0, now())
            """,
            Ct);
        return db;
    }

    /// <summary>A REPEATABLE READ transaction that has read: its snapshot is older than any build started after it.</summary>
    internal static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> OldSnapshotAsync(TestDb db)
    {
        var connection = await db.DataSource.OpenConnectionAsync(Ct);
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, Ct);
        await using var read = new NpgsqlCommand("SELECT count(*) FROM users", connection, transaction);
        await read.ExecuteScalarAsync(Ct);
        return (connection, transaction);
    }

    /// <summary>Polls <paramref name="sql"/> until it returns a pid (up to a generous minute).</summary>
    internal static async Task<int> WaitForAsync(TestDb db, string sql)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await db.ScalarAsync<int?>(sql, Ct) is { } pid)
            {
                return pid;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"Nothing matched within 60 s: {sql}");
            }

            await Task.Delay(25, Ct);
        }
    }
}
