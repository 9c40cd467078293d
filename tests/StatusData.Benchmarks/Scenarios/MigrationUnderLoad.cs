using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using FluentMigrator;
using Npgsql;
using StatusData.Benchmarks.Infrastructure;
using StatusData.Migrations;
using StatusData.TestSupport;

namespace StatusData.Benchmarks.Scenarios;

/// <summary>
/// Issue 20, item 5: <c>up</c> from 202602282200 on a large status_updates table while writers post without pause.
/// Four writers post through StatusData (<see cref="StatusDatabase"/>, the library's own PostAsync); after a warm-up and
/// a writers-only window, the migrator applies 202611220900 in-process, the writers keep posting, and a short window
/// follows. Each post's start and end are recorded, so the report says what a caller saw, failures included.
/// </summary>
internal static class MigrationUnderLoad
{
    public const string SectionBegin = "<!-- migration-under-load:begin -->";
    public const string SectionEnd = "<!-- migration-under-load:end -->";
    public const int DefaultRows = 2_000_000;
    public const int DefaultRuns = 3;
    public const int DefaultUpTimeoutSeconds = 600;

    private const long InitialVersion = 202602282200;
    private const long IndexesVersion = 202611220900;
    private const int Users = 2_000;
    private const int Writers = 4;
    private const string UpApplication = "statusdata-bench-up";
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BeforeWindow = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AfterWindow = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LatencyGoal = TimeSpan.FromSeconds(1);
    private static readonly string[] Categories = ["general", "work", "fitness", "reading", "coding", "travel", "food", "music"];

    // Everything the scenario creates, so that each run starts from the 202602282200 schema again.
    private const string ResetSql = """
        DROP INDEX IF EXISTS ix_status_updates_created_at_id, ix_status_updates_user_id_created_at_id,
            ix_status_updates_category_created_at_id, ix_users_created_at_id;
        DELETE FROM version_info WHERE version = 202611220900
        """;

    private const string SeedUsersSql = """
        INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
        SELECT gen_random_uuid(), 'user' || lpad(i::text, 5, '0'), 'User ' || i, 'user' || i || '@example.com',
               '$2b$12$' || md5(i::text) || md5((-i)::text), NULL, 0, 0, 0, NULL, timestamptz '2024-01-01' + i * interval '1 hour'
        FROM generate_series(1, $1) AS i
        """;

    // Authors round-robin, categories round-robin, instants at random over 2025: as in the other benchmarks' seed.
    private const string SeedStatusUpdatesSql = """
        INSERT INTO status_updates (id, user_id, message, category, created_at)
        SELECT gen_random_uuid(), a.ids[1 + g % cardinality(a.ids)], 'status update ' || g || ': ' || md5(g::text),
               ($2::text[])[1 + g % cardinality($2::text[])], timestamptz '2025-01-01' + random() * interval '365 days'
        FROM generate_series(1, $1) AS g
        CROSS JOIN (SELECT array_agg(id ORDER BY username) AS ids FROM users) AS a
        """;

    private const string IndexesSql = """
        SELECT count(*) FILTER (WHERE i.indisvalid), count(*)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname IN ('ix_status_updates_created_at_id', 'ix_status_updates_user_id_created_at_id',
                            'ix_status_updates_category_created_at_id', 'ix_users_created_at_id')
        """;

    private const string TerminateUpSql = $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{UpApplication}'";

    // Each of the migrator's sessions that waits: its statement, what it waits for, and who holds that.
    private const string WaitsSql = """
        SELECT string_agg(
            format('%s waits for %s/%s, held by %s', left(regexp_replace(a.query, '\s+', ' ', 'g'), 90), a.wait_event_type, a.wait_event,
                   (SELECT string_agg(format('pid %s (%s, %s: %s)', b.pid, nullif(b.application_name, ''), b.state, left(regexp_replace(b.query, '\s+', ' ', 'g'), 90)), '; ')
                    FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid)))),
            '; ')
        FROM pg_stat_activity a
        WHERE a.application_name = $1 AND cardinality(pg_blocking_pids(a.pid)) > 0
        """;

    /// <summary>Runs both variants <paramref name="runs"/> times each on <paramref name="rows"/> status updates and writes the report.</summary>
    /// <param name="root">The repository root.</param>
    /// <param name="runs">Runs per variant.</param>
    /// <param name="rows">Seeded status updates.</param>
    /// <param name="upTimeout">How long a run of <c>up</c> may take before the harness reports it as hung and ends its sessions.</param>
    /// <param name="localConcurrentAfter">Use <see cref="ConcurrentKeysetPaginationIndexes"/> as "after" instead of the shipped migration (a harness check).</param>
    /// <returns>The exit code: 0 when every run was measured, whatever it measured.</returns>
    public static async Task<int> RunAsync(string root, int runs, int rows, TimeSpan upTimeout, bool localConcurrentAfter)
    {
        var shipped = StatusDataMigrator.Discover(typeof(StatusDataMigrator).Assembly);
        var initial = shipped.Single(m => VersionOf(m) == InitialVersion);
        Variant[] variants =
        [
            new("before", "a copy of 202611220900 as it was (TransactionalKeysetPaginationIndexes)", new TransactionalKeysetPaginationIndexes()),
            localConcurrentAfter
                ? new("after (local copy)", "ConcurrentKeysetPaginationIndexes, a CREATE INDEX CONCURRENTLY stand-in in the benchmark project, not the library's migration", new ConcurrentKeysetPaginationIndexes())
                : new("after", "202611220900 as the library ships it (StatusDataMigrator.Discover)", shipped.Single(m => VersionOf(m) == IndexesVersion)),
        ];

        var started = DateTime.UtcNow;
        var loadBefore = RunInfo.LoadAverage();
        await using var server = await PostgresServers.StartLocalAsync(BenchmarkSettings.ServerVariable);
        Console.WriteLine($"server: {server.Description}");
        await using var databases = await TestDatabases.CreateAsync(server);
        var connectionString = await databases.CreateEmptyAsync("migrationload");
        await SeedAsync(connectionString, initial, variants[0].Migration, rows);

        var results = new List<RunResult>();
        foreach (var variant in variants)
        {
            for (var run = 1; run <= runs; run++)
            {
                var result = await RunOnceAsync(connectionString, initial, variant, run, upTimeout);
                Console.WriteLine(Row(result));
                results.Add(result);
            }
        }

        var postgres = await ScalarAsync(connectionString, "SELECT 'PostgreSQL ' || current_setting('server_version') || ', deadlock_timeout ' || current_setting('deadlock_timeout') || ', shared_buffers ' || current_setting('shared_buffers')");
        var section = Section(results, variants, rows, runs, upTimeout, started, loadBefore, RunInfo.LoadAverage(), postgres, server is ThrowawayPostgresServer, localConcurrentAfter);
        Console.WriteLine();
        Console.WriteLine(section);

        // Only the issue's size with the shipped migration goes into the docs; anything else is a check of the harness.
        if (rows == DefaultRows && !localConcurrentAfter)
        {
            var docs = Path.Combine(root, "docs", "benchmarks.md");
            await File.WriteAllTextAsync(docs, MarkdownReport.ReplaceSection(await File.ReadAllTextAsync(docs), SectionBegin, SectionEnd, section));
            Console.WriteLine($"wrote the migration-under-load section of {docs}");
        }
        else
        {
            var partial = Path.Combine(root, "BenchmarkDotNet.Artifacts", "migration-under-load.md");
            Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
            await File.WriteAllTextAsync(partial, section);
            Console.WriteLine($"wrote {partial} (docs/benchmarks.md takes only --rows {DefaultRows} with the shipped migration)");
        }

        return 0;
    }

    private static async Task SeedAsync(string connectionString, IMigration initial, IMigration indexes, int rows)
    {
        var clock = Stopwatch.StartNew();
        await new StatusDataMigrator(connectionString, new StatusDataMigratorOptions { Migrations = [initial, indexes] }).UpAsync(InitialVersion);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var users = dataSource.CreateCommand(SeedUsersSql))
        {
            users.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Users });
            await users.ExecuteNonQueryAsync();
        }

        await using (var updates = dataSource.CreateCommand(SeedStatusUpdatesSql))
        {
            updates.CommandTimeout = 0;
            updates.Parameters.Add(new NpgsqlParameter<int> { TypedValue = rows });
            updates.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Categories });
            await updates.ExecuteNonQueryAsync();
        }

        await ExecuteAsync(dataSource, "VACUUM (ANALYZE) users");
        await ExecuteAsync(dataSource, "VACUUM (ANALYZE) status_updates");
        await ExecuteAsync(dataSource, "CHECKPOINT");
        Console.WriteLine($"seed: migrated to {InitialVersion}, {Users:N0} users and {rows:N0} status updates in {clock.Elapsed.TotalSeconds:F0} s");
    }

    private static async Task<RunResult> RunOnceAsync(string connectionString, IMigration initial, Variant variant, int run, TimeSpan upTimeout)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await ExecuteAsync(dataSource, ResetSql);
        await ExecuteAsync(dataSource, "VACUUM (ANALYZE) users"); // the writers' xp updates of earlier runs
        await ExecuteAsync(dataSource, "CHECKPOINT");
        Guid[] authors;
        await using (var command = dataSource.CreateCommand("SELECT id FROM users ORDER BY username"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var ids = new List<Guid>();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }

            authors = [.. ids];
        }

        // The writers post through the library, over a data source built as AddStatusData(connectionString) builds it.
        await using var writerSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32 });
        var database = new StatusDatabase(writerSource);
        using var stop = new CancellationTokenSource();
        var posts = Enumerable.Range(0, Writers).Select(_ => new List<Post>()).ToArray();
        var writers = posts.Select((mine, w) => Task.Run(() => WriteAsync(database, authors, new Random((run * 100) + w), mine, stop.Token))).ToArray();

        await Task.Delay(WarmUp);
        var beforeStart = Stopwatch.GetTimestamp();
        await Task.Delay(BeforeWindow);

        // Its own application name, so that a run that hangs can be described and ended.
        var upConnection = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = UpApplication }.ConnectionString;
        var migrator = new StatusDataMigrator(upConnection, new StatusDataMigratorOptions { Migrations = [initial, variant.Migration] });
        var upStart = Stopwatch.GetTimestamp();
        var up = migrator.UpAsync();
        string? failure = null;
        if (await Task.WhenAny(up, Task.Delay(upTimeout)) != up)
        {
            failure = $"no end after {upTimeout.TotalSeconds:0} s ({await DescribeWaitsAsync(dataSource)}); the harness ended its sessions";
        }

        var upEnd = Stopwatch.GetTimestamp();
        if (failure is not null)
        {
            await ExecuteAsync(dataSource, TerminateUpSql);
        }

        try
        {
            await up;
        }
        catch (Exception e)
        {
            // Whatever it is, it is the result of this run: the report says it.
            failure ??= FirstLine(e.Message) + (SqlStateOf(e) is { } state ? $" [{state}]" : string.Empty);
        }

        await Task.Delay(AfterWindow);
        var afterEnd = Stopwatch.GetTimestamp();
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        var (valid, present) = await IndexCountsAsync(dataSource);
        var all = posts.SelectMany(p => p).ToList();
        var overlapping = all.Where(p => p.Start < upEnd && p.End > upStart).Select(p => Stopwatch.GetElapsedTime(p.Start, p.End)).Order().ToList();
        return new RunResult(
            variant.Name,
            run,
            failure,
            valid,
            present,
            Stopwatch.GetElapsedTime(upStart, upEnd),
            Rate(all, beforeStart, upStart),
            Rate(all, upStart, upEnd),
            Rate(all, upEnd, afterEnd),
            overlapping.Count == 0 ? TimeSpan.Zero : overlapping[^1],
            Percentile(overlapping, 0.99),
            all.Where(p => p.End >= beforeStart && p.Start < upStart).Select(p => Stopwatch.GetElapsedTime(p.Start, p.End)).DefaultIfEmpty().Max(),
            all.Where(p => p.Error is not null).GroupBy(p => p.Error!).ToDictionary(g => g.Key, g => g.Count()));
    }

    /// <summary>One writer: posts back to back until stopped; the post in flight when it is stopped still completes and counts.</summary>
    private static async Task WriteAsync(StatusDatabase database, Guid[] authors, Random random, List<Post> posts, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            string? error = null;
            try
            {
                await database.StatusUpdates.PostAsync(authors[random.Next(authors.Length)], "posting through a migration", Categories[random.Next(Categories.Length)], 10, cancellationToken: CancellationToken.None);
            }
            catch (Exception e)
            {
                // Every failure a caller would see is a result: recorded, and the writer posts on.
                error = e.GetType().Name + (SqlStateOf(e) is { } state ? " " + state : string.Empty);
            }

            posts.Add(new Post(start, Stopwatch.GetTimestamp(), error));
        }
    }

    /// <summary>What the migrator's sessions are waiting for, and on whom: the reason a run did not end.</summary>
    private static async Task<string> DescribeWaitsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(WaitsSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = UpApplication });
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) is { Length: > 0 } waits ? waits : "no session of the migrator was waiting";
    }

    private static string? SqlStateOf(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is PostgresException p)
            {
                return p.SqlState;
            }
        }

        return null;
    }

    /// <summary>Successful posts that ended in [from, to), per second.</summary>
    private static double Rate(List<Post> posts, long from, long to)
    {
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        return seconds <= 0 ? 0 : posts.Count(p => p.Error is null && p.End >= from && p.End < to) / seconds;
    }

    private static TimeSpan Percentile(List<TimeSpan> sorted, double p) =>
        sorted.Count == 0 ? TimeSpan.Zero : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task<(long Valid, long Present)> IndexCountsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(IndexesSql);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static string Section(List<RunResult> results, Variant[] variants, int rows, int runs, TimeSpan upTimeout, DateTime started, string loadBefore, string loadAfter, string postgres, bool throwaway, bool localConcurrentAfter)
    {
        var md = new StringBuilder();
        md.AppendLine(SectionBegin);
        md.AppendLine("## Migration under posting load");
        md.AppendLine();
        md.AppendLine("<!-- Generated by tests/StatusData.Benchmarks --migration-under-load; do not edit by hand. -->");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"""
            Issue 20, item 5: `up` from 202602282200 (migration 202611220900, the four keyset pagination indexes) on
            {Users:N0} users and {rows:N0} status updates while {Writers} writers post without pause, each post StatusData's own
            `PostAsync` (one statement: UPDATE users SET xp = xp + 10 … RETURNING, then INSERT INTO status_updates).
            Per run: the 202602282200 state again (the four indexes dropped, the version row deleted, `VACUUM ANALYZE users`,
            CHECKPOINT), {WarmUp.TotalSeconds:0} s of warm-up, {BeforeWindow.TotalSeconds:0} s of writers alone (*before*), `StatusDataMigrator.UpAsync()`
            in-process with the default options (*during*: both variants through today's runner, so each attempt waits at most 1 s
            for a lock, rolls back and retries until the 60 s lock timeout), {AfterWindow.TotalSeconds:0} s more (*after*). A post's wait counts *during* when it
            overlaps the run at all, so one stuck behind the migration's locks from before it started counts too. A run of
            `up` still going after {upTimeout.TotalSeconds:0} s is reported as failed with what its sessions wait for, and the harness ends them.
            Goal: `up` completes every time and no post waits 1 s or more.
            """);
        md.AppendLine();
        md.AppendLine("```bash");
        md.AppendLine(CultureInfo.InvariantCulture, $"dotnet run -c Release --project tests/StatusData.Benchmarks -- --migration-under-load --runs {runs}{(upTimeout.TotalSeconds == DefaultUpTimeoutSeconds ? string.Empty : $" --up-timeout {upTimeout.TotalSeconds:0}")}{(rows == DefaultRows ? string.Empty : $" --rows {rows}")}{(localConcurrentAfter ? " --after local-concurrent" : string.Empty)}");
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run {started:yyyy-MM-dd HH:mm} UTC on {RunInfo.Cpu()}, {Environment.ProcessorCount} cores, {RunInfo.OperatingSystem()}, {RuntimeInformation.FrameworkDescription};");
        md.AppendLine(CultureInfo.InvariantCulture, $"{postgres}, {(throwaway ? "throwaway local server (fsync, synchronous_commit, full_page_writes off)" : "server from STATUSDATA_BENCH_CONNECTION")}, on the same cores as the writers.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Load average (1/5/15 min) {loadBefore} before, {loadAfter} after.");
        md.AppendLine();
        md.AppendLine("Variants:");
        md.AppendLine();
        foreach (var variant in variants)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- **{variant.Name}**: {variant.Description}; {TransactionOf(variant.Migration)}.");
        }

        if (variants.All(v => TransactionOf(v.Migration) == TransactionOf(variants[0].Migration)))
        {
            md.AppendLine();
            md.AppendLine("Both variants run in the same way: this build does not ship a non-transactional 202611220900 yet, so *after* measures today's migration again.");
        }

        md.AppendLine();
        md.AppendLine("| Variant | Run | `up` | `up` took | Posts/s before | Posts/s during | Posts/s after | Longest post during | p99 during | Longest post before | Writer errors |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var result in results)
        {
            md.AppendLine(Row(result));
        }

        md.AppendLine();
        foreach (var variant in variants)
        {
            var mine = results.Where(r => r.Variant == variant.Name).ToList();
            var completed = mine.Count(r => r.Completed);
            var longest = mine.Max(r => r.LongestDuring);
            var met = completed == mine.Count && longest < LatencyGoal;
            md.AppendLine(CultureInfo.InvariantCulture, $"- **{variant.Name}**: completed {completed} of {mine.Count}; longest post during `up` {Seconds(longest)}; goal {(met ? "met" : "not met")}.");
        }

        md.Append(SectionEnd);
        return md.ToString();
    }

    private static string Row(RunResult r) => string.Create(
        CultureInfo.InvariantCulture,
        $"| {r.Variant} | {r.Run} | {(r.Completed ? "completed" : "**failed**: " + (r.Failure ?? $"{r.ValidIndexes} of 4 indexes valid, {r.PresentIndexes} present").Replace("|", "\\|", StringComparison.Ordinal))} | {Seconds(r.UpDuration)} | {r.PostsPerSecondBefore:N0} | {r.PostsPerSecondDuring:N0} | {r.PostsPerSecondAfter:N0} | {Seconds(r.LongestDuring)} | {Seconds(r.P99During)} | {Seconds(r.LongestBefore)} | {(r.Errors.Count == 0 ? "none" : string.Join(", ", r.Errors.Select(e => $"{e.Value} × {e.Key}")))} |");

    private static string Seconds(TimeSpan t) =>
        t < TimeSpan.FromSeconds(1) ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0} ms") : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.00} s");

    private static string TransactionOf(IMigration migration) =>
        migration.GetType().GetCustomAttribute<MigrationAttribute>()!.TransactionBehavior == TransactionBehavior.None
            ? "TransactionBehavior.None (no transaction)"
            : "one transaction (TransactionBehavior.Default)";

    private static long VersionOf(IMigration migration) => migration.GetType().GetCustomAttribute<MigrationAttribute>()!.Version;

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string> ScalarAsync(string connectionString, string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? string.Empty;
    }

    private sealed record Variant(string Name, string Description, IMigration Migration);

    private readonly record struct Post(long Start, long End, string? Error);

    private sealed record RunResult(
        string Variant,
        int Run,
        string? Failure,
        long ValidIndexes,
        long PresentIndexes,
        TimeSpan UpDuration,
        double PostsPerSecondBefore,
        double PostsPerSecondDuring,
        double PostsPerSecondAfter,
        TimeSpan LongestDuring,
        TimeSpan P99During,
        TimeSpan LongestBefore,
        Dictionary<string, int> Errors)
    {
        /// <summary><c>up</c> returned, and all four indexes exist and are valid.</summary>
        public bool Completed => Failure is null && ValidIndexes == 4 && PresentIndexes == 4;
    }
}
