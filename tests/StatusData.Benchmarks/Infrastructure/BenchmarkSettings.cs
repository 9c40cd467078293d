using System.Globalization;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>
/// What Program.Main hands to the benchmark processes. BenchmarkDotNet runs every benchmark in a child
/// process of its own, which inherits the environment: the seeded database is named there.
/// </summary>
internal static class BenchmarkSettings
{
    /// <summary>A server of the user's on which the benchmarks may create (and drop) a database; otherwise a throwaway one is started.</summary>
    public const string ServerVariable = "STATUSDATA_BENCH_CONNECTION";

    /// <summary>Set by Program.Main for the child processes: the connection string of the seeded database.</summary>
    public const string DatabaseVariable = "STATUSDATA_BENCH_DATABASE";

    /// <summary>Set by Program.Main for the child processes: how many status updates the import benchmark imports.</summary>
    public const string ImportRowsVariable = "STATUSDATA_BENCH_IMPORT_ROWS";

    public const int FullImportRows = 100_000;

    public const int QuickImportRows = 20_000;

    /// <summary>The seeded database. Throws with a clear message when a benchmark is started outside Program.Main.</summary>
    public static string DatabaseConnectionString =>
        Environment.GetEnvironmentVariable(DatabaseVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{DatabaseVariable} is not set: run the benchmarks through Program.Main (dotnet run -c Release --project tests/StatusData.Benchmarks), which seeds a database and sets it.");

    public static int ImportRows =>
        Environment.GetEnvironmentVariable(ImportRowsVariable) is { Length: > 0 } value
            ? int.Parse(value, CultureInfo.InvariantCulture)
            : FullImportRows;
}
