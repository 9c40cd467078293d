namespace StatusData.TestSupport;

/// <summary>
/// The one server and template per test process. Started on first use; stopped by
/// <see cref="StopAsync"/>, which the test assemblies' assembly fixture calls at the end of the run.
/// </summary>
public static class SharedPostgres
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static TestDatabases? _databases;

    /// <summary>The shared database factory, starting the server and building the template on first use.</summary>
    /// <returns>The factory.</returns>
    public static async Task<TestDatabases> GetAsync()
    {
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_databases is null)
            {
                // Not the caller's token: a cancelled first test must not leave a half-started server for the rest.
                var server = await PostgresServers.StartAsync().ConfigureAwait(false);
                try
                {
                    var databases = await TestDatabases.CreateAsync(server).ConfigureAwait(false);
                    await RecordAsync(server).ConfigureAwait(false);
                    _databases = databases;
                }
                catch
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            return _databases;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>
    /// Appends "&lt;test assembly&gt;: &lt;server&gt;" to the file <c>STATUSDATA_TEST_SERVER_LOG</c> names, if set:
    /// scripts/test.sh prints it, one line per suite.
    /// </summary>
    private static async Task RecordAsync(IPostgresServer server)
    {
        if (Environment.GetEnvironmentVariable("STATUSDATA_TEST_SERVER_LOG") is { Length: > 0 } log)
        {
            var suite = System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? "tests";
            await File.AppendAllTextAsync(log, $"{suite}: {server.Description}{Environment.NewLine}").ConfigureAwait(false);
        }
    }

    /// <summary>Drops the databases and stops the throwaway server, if one was started.</summary>
    /// <returns>A task that completes when everything is gone.</returns>
    public static async Task StopAsync()
    {
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_databases is not null)
            {
                await _databases.DisposeAsync().ConfigureAwait(false);
                await _databases.Server.DisposeAsync().ConfigureAwait(false);
                _databases = null;
            }
        }
        finally
        {
            Gate.Release();
        }
    }
}
