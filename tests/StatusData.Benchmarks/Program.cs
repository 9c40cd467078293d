using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Npgsql;
using StatusData.Benchmarks.Benchmarks;
using StatusData.Benchmarks.Infrastructure;
using StatusData.Benchmarks.Scenarios;
using StatusData.TestSupport;

namespace StatusData.Benchmarks;

/// <summary>
/// Starts (or connects to) PostgreSQL once, seeds a database, counts round trips and checks that the
/// contenders agree, runs BenchmarkDotNet (each benchmark in a child process that finds the database
/// in an environment variable), and writes docs/benchmarks.md and the README's summary.
/// </summary>
internal static class Program
{
    private const string Usage = """
        StatusData benchmarks: StatusData against raw Npgsql, EF Core and naive Dapper.

          dotnet run -c Release --project tests/StatusData.Benchmarks [-- options]

          --quick              ShortRun job (9 iterations) and a 20,000-row import: a few minutes instead of most of an hour
          --filter <globs>     only benchmarks whose Type.Method matches one of the comma-separated globs
                               (e.g. '*Feed*,*Import*'); writes
                               BenchmarkDotNet.Artifacts/benchmarks-partial.md, not docs/ or the README
          --round-trips-only   seed, count round trips and check results, without timing anything
          --migration-under-load [--runs N] [--rows N] [--up-timeout S] [--after local-concurrent]
                               not BenchmarkDotNet: `up` of 202611220900 on N status updates (default 2,000,000)
                               while 4 writers post, for the old transactional migration and the shipped one,
                               N runs each (default 3); a run of `up` still going after S seconds (default 600)
                               is reported as hung, with what it waits for, and its sessions are ended; writes its section of docs/benchmarks.md (only at the
                               default size with the shipped migration; otherwise
                               BenchmarkDotNet.Artifacts/migration-under-load.md). --after local-concurrent
                               measures the benchmark project's CREATE INDEX CONCURRENTLY copy instead of the
                               shipped migration, to check the harness
          --test-databases [--iterations N]
                               not BenchmarkDotNet: StatusData.Testing's time to a fresh migrated database by clone
                               against migrating one from scratch, and of a reset, N samples each (default 50);
                               writes its section of docs/testing.md

        STATUSDATA_BENCH_CONNECTION: a server where the run may create and drop a database; otherwise a
        throwaway PostgreSQL is started from the local binaries (see docs/testing.md).
        """;

    private static readonly Type[] BenchmarkTypes =
    [
        typeof(UserBenchmarks),
        typeof(PostingBenchmarks),
        typeof(FeedBenchmarks),
        typeof(DeepFeedBenchmarks),
        typeof(RelationBenchmarks),
        typeof(ImportBenchmarks),
        typeof(TracingBenchmarks),
        typeof(ThroughputBenchmarks),
    ];

    public static async Task<int> Main(string[] args)
    {
        var quick = args.Contains("--quick");
        var roundTripsOnly = args.Contains("--round-trips-only");
        var filterIndex = Array.IndexOf(args, "--filter");
        var filter = filterIndex >= 0 && filterIndex + 1 < args.Length ? args[filterIndex + 1] : null;
        if (args.Contains("--help") || args.Contains("-h") || (filterIndex >= 0 && filter is null))
        {
            Console.WriteLine(Usage);
            return filterIndex >= 0 && filter is null ? 2 : 0;
        }

#if DEBUG
        if (!roundTripsOnly)
        {
            await Console.Error.WriteLineAsync("Benchmarks measure optimized code: run with -c Release (dotnet run -c Release --project tests/StatusData.Benchmarks).");
            return 2;
        }
#endif

        var root = RepositoryRoot();
        if (args.Contains("--migration-under-load"))
        {
            var runs = IntOption(args, "--runs", MigrationUnderLoad.DefaultRuns);
            var seedRows = IntOption(args, "--rows", MigrationUnderLoad.DefaultRows);
            var upTimeout = IntOption(args, "--up-timeout", MigrationUnderLoad.DefaultUpTimeoutSeconds);
            var after = Option(args, "--after");
            if (runs is null or < 1 || seedRows is null or < 1 || upTimeout is null or < 1 || after is not (null or "local-concurrent"))
            {
                await Console.Error.WriteLineAsync("--runs, --rows and --up-timeout take a positive whole number; --after takes 'local-concurrent'.");
                return 2;
            }

            return await MigrationUnderLoad.RunAsync(root, runs.Value, seedRows.Value, TimeSpan.FromSeconds(upTimeout.Value), localConcurrentAfter: after is not null);
        }

        if (args.Contains("--test-databases"))
        {
            var iterations = IntOption(args, "--iterations", TestDatabaseTimings.DefaultIterations);
            if (iterations is null or < 1)
            {
                await Console.Error.WriteLineAsync("--iterations takes a positive whole number.");
                return 2;
            }

            return await TestDatabaseTimings.RunAsync(root, iterations.Value);
        }

        var types = filter is null ? BenchmarkTypes : [.. BenchmarkTypes.Where(t => RoundTripPass.BenchmarkMethods(t).Any(m => Matches(filter, m)))];
        if (types.Length == 0)
        {
            await Console.Error.WriteLineAsync($"No benchmark matches '{filter}'.");
            return 2;
        }

        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var loadBefore = RunInfo.LoadAverage();
        var importRows = quick ? BenchmarkSettings.QuickImportRows : BenchmarkSettings.FullImportRows;

        await using var server = await PostgresServers.StartLocalAsync(BenchmarkSettings.ServerVariable);
        Console.WriteLine($"server: {server.Description}");
        await using var databases = await TestDatabases.CreateAsync(server);
        var connectionString = await databases.CreateMigratedAsync("bench");
        var seedClock = Stopwatch.StartNew();
        await Seeder.SeedAsync(connectionString, Console.Out);
        var seedDuration = seedClock.Elapsed;

        // BenchmarkDotNet's child processes inherit the environment: this is how they find the database.
        Environment.SetEnvironmentVariable(BenchmarkSettings.DatabaseVariable, connectionString);
        Environment.SetEnvironmentVariable(BenchmarkSettings.ImportRowsVariable, importRows.ToString(CultureInfo.InvariantCulture));

        // The throughput benchmarks run the single-caller operations many at a time: nothing new to count or check.
        var passTypes = types.Where(t => t != typeof(ThroughputBenchmarks)).ToArray();
        var roundTrips = await RoundTripPass.RunAsync(passTypes, connectionString, Console.Out);
        var allocations = await AllocationPass.RunAsync(passTypes, Console.Out);
        Console.WriteLine("round trips: counted; every contender of every read returned the same rows");

        ServerImportProbe? probe = null;
        if (types.Contains(typeof(ImportBenchmarks)))
        {
            probe = await ServerImportProbe.MeasureAsync(connectionString, importRows);
            Console.WriteLine($"server alone: {probe.IndexedRowsPerSecond:N0} rows/s into status_updates, {probe.BareRowsPerSecond:N0} rows/s into a bare table");
        }

        Summary[] summaries = [];
        if (!roundTripsOnly)
        {
            // Quick: ShortRun (1 launch, 3 warm-ups) with 9 iterations instead of 3: medians of 5 still moved by 10% between runs.
            var job = quick ? Job.ShortRun.WithIterationCount(9).WithId("Quick") : Job.Default.WithId("Full");
            IConfig config = DefaultConfig.Instance
                .AddJob(job)
                .AddDiagnoser(MemoryDiagnoser.Default)
                .AddColumn(CategoriesColumn.Default)
                .AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory)
                .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40))
                .WithArtifactsPath(Path.Combine(root, "BenchmarkDotNet.Artifacts"));
            if (filter is not null)
            {
                config = config.AddFilter(new SimpleFilter(b => Matches(filter, b.Descriptor.WorkloadMethod)));
            }

            summaries = BenchmarkRunner.Run(types, config);
        }

        var run = new RunInfo
        {
            Quick = quick,
            ImportRows = importRows,
            Server = server is ThrowawayPostgresServer ? "throwaway local server (fsync, synchronous_commit, full_page_writes off)" : "server from STATUSDATA_BENCH_CONNECTION",
            PostgresVersion = "PostgreSQL " + await ScalarAsync(connectionString, "SHOW server_version"),
            PostgresSettings = $"shared_buffers {await ScalarAsync(connectionString, "SHOW shared_buffers")}, loopback TCP",
            LoadBefore = loadBefore,
            StartedUtc = started,
            SeedDuration = seedDuration,
            ImportProbe = probe,
        };
        run.LoadAfter = RunInfo.LoadAverage();
        run.Duration = clock.Elapsed;

        var rows = MarkdownReport.Rows(summaries, roundTrips, allocations, passTypes)
            .Where(r => filter is null || Regex.IsMatch(r.Method, GlobPattern(filter), RegexOptions.IgnoreCase))
            .ToList();
        var throughput = MarkdownReport.ThroughputRows(summaries);
        var document = MarkdownReport.Document(rows, throughput, run);
        if (filter is null && !roundTripsOnly)
        {
            var docs = Path.Combine(root, "docs", "benchmarks.md");
            // The migration-under-load section comes from its own mode: a full run keeps it as it was.
            var kept = File.Exists(docs) ? MarkdownReport.Section(await File.ReadAllTextAsync(docs), MigrationUnderLoad.SectionBegin, MigrationUnderLoad.SectionEnd) : null;
            await File.WriteAllTextAsync(docs, kept is null ? document : MarkdownReport.ReplaceSection(document, MigrationUnderLoad.SectionBegin, MigrationUnderLoad.SectionEnd, kept));
            var readme = Path.Combine(root, "README.md");
            await File.WriteAllTextAsync(readme, MarkdownReport.UpdateReadme(await File.ReadAllTextAsync(readme), MarkdownReport.ReadmeSection(rows, run)));
            Console.WriteLine($"wrote {docs} and the Benchmarks section of {readme}");
        }
        else
        {
            var partial = Path.Combine(root, "BenchmarkDotNet.Artifacts", "benchmarks-partial.md");
            Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
            await File.WriteAllTextAsync(partial, document);
            Console.WriteLine($"wrote {partial}");
        }

        var failed = rows.Where(r => r.MedianNs is null && !roundTripsOnly).Select(r => $"{r.Method} [{r.Contender}]").ToList();
        if (failed.Count > 0)
        {
            await Console.Error.WriteLineAsync("benchmarks that failed: " + string.Join(", ", failed));
            return 1;
        }

        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : index >= 0 ? string.Empty : null;
    }

    /// <summary>The option's value, <paramref name="otherwise"/> when absent, <see langword="null"/> when not a whole number.</summary>
    private static int? IntOption(string[] args, string name, int otherwise) =>
        Option(args, name) is not { } value ? otherwise
        : int.TryParse(value.Replace("_", string.Empty, StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static bool Matches(string glob, System.Reflection.MethodInfo method) =>
        Regex.IsMatch(RoundTripPass.Name(method), GlobPattern(glob), RegexOptions.IgnoreCase);

    /// <summary>A regular expression for comma-separated globs over Type.Method.</summary>
    private static string GlobPattern(string globs) =>
        "^(" + string.Join('|', globs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(g => Regex.Escape(g).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal))) + ")$";

    private static async Task<string> ScalarAsync(string connectionString, string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? string.Empty;
    }

    /// <summary>The folder holding StatusData.sln, from the working directory or the program's own location.</summary>
    private static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "StatusData.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the benchmarks from within the StatusData repository (StatusData.sln not found).");
    }
}
