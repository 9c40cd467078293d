using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StatusData.Migrations.Tests.Support;

/// <summary>What one statusdata-migrate process did.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

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

    /// <summary>The dotnet host that runs this test process, so the tool runs on the same installation.</summary>
    public static string DotnetHost { get; } = FindDotnetHost();

    /// <summary>Starts the tool. STATUSDATA_CONNECTION is never inherited from the test process; pass it in <paramref name="environment"/>.</summary>
    public static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ToolPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove(ConnectionVariable);
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {DotnetHost} {ToolPath}.");
    }

    /// <summary>Runs the tool to completion and returns its exit code and output; kills it after <paramref name="timeout"/>.</summary>
    public static async Task<CliResult> RunAsync(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var process = Start(arguments, environment);
        return await WaitAsync(process, timeout, cancellationToken);
    }

    public static async Task<CliResult> WaitAsync(Process process, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(process);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"statusdata-migrate did not exit within {(timeout ?? DefaultTimeout).TotalSeconds:0} s and was killed.");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    public static Dictionary<string, string> WithConnection(string connectionString) => new() { [ConnectionVariable] = connectionString };

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
