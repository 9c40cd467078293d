namespace StatusData.Tests.Support;

/// <summary>Runs one test of this assembly again in a child process (another TZ, Dapper settings of its own), on this run's server.</summary>
internal static class ChildTestRun
{
    /// <summary>Runs <paramref name="test"/> of <typeparamref name="TClass"/> with <paramref name="environment"/> added; fails unless it passes.</summary>
    public static async Task RunAsync<TClass>(string test, Dictionary<string, string?> environment)
    {
        // The child uses this run's server (its own databases on it) instead of starting another.
        environment[PostgresServers.ConnectionVariable] = (await SharedPostgres.GetAsync()).Server.AdminConnectionString;
        environment["STATUSDATA_TEST_SERVER_LOG"] = null; // the child is not a suite of its own
        var child = await ChildProcess.RunAsync(
            "dotnet",
            [Path.Combine(AppContext.BaseDirectory, "StatusData.Tests.dll"), "-method", $"{typeof(TClass).FullName}.{test}", "-noLogo", "-parallel", "none"],
            TimeSpan.FromMinutes(3),
            environment,
            cancellationToken: Ct);
        Assert.True(child.ExitCode == 0, $"child test run failed ({child.ExitCode}):\n{child.Stdout}\n{child.Stderr}");
    }
}
