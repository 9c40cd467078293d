using System.Runtime.InteropServices;

namespace StatusData.Migrations.Tests.Support;

/// <summary>
/// Runs the real statusdata-migrate as a separate process: <c>dotnet statusdata-migrate.dll args</c>
/// from this test project's output folder, where the project reference puts the tool's dll,
/// runtimeconfig.json and deps.json.
/// </summary>
internal static class CliRunner
{
    public const string ConnectionVariable = "STATUSDATA_CONNECTION";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static string ToolPath { get; } = Path.Combine(AppContext.BaseDirectory, "statusdata-migrate.dll");

    /// <summary>The test-only migrations assembly (tests/StatusData.TestMigrations), copied next to the tests, for --migrations-assembly.</summary>
    public static string TestMigrationsAssembly { get; } = Path.Combine(AppContext.BaseDirectory, "StatusData.TestMigrations.dll");

    /// <summary>The dotnet host that runs this test process, so the tool runs on the same installation.</summary>
    public static string DotnetHost { get; } = FindDotnetHost();

    /// <summary>Starts the tool. STATUSDATA_CONNECTION is never inherited from the test process; pass it in <paramref name="environment"/>.</summary>
    public static ChildProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var variables = new Dictionary<string, string?>
        {
            [ConnectionVariable] = null,
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        return ChildProcess.Start(DotnetHost, [ToolPath, .. arguments], variables);
    }

    /// <summary>Runs the tool to completion and returns its exit code and output; kills it after <paramref name="timeout"/> (default 60 s).</summary>
    public static async Task<ProcessResult> RunAsync(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var process = Start(arguments, environment);
        return await process.WaitAsync(timeout ?? DefaultTimeout, cancellationToken);
    }

    public static Dictionary<string, string> WithConnection(string connectionString) => new() { [ConnectionVariable] = connectionString };

    /// <summary>Neither output stream of the run contains <paramref name="secret"/>.</summary>
    public static void AssertDoesNotPrint(string secret, ProcessResult result)
    {
        Assert.DoesNotContain(secret, result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, result.Stderr, StringComparison.Ordinal);
    }

    private static string FindDotnetHost()
    {
        // Set by the dotnet CLI (dotnet test) for the processes it starts.
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>/dotnet
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
