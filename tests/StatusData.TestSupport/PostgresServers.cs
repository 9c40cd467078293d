namespace StatusData.TestSupport;

/// <summary>Chooses the PostgreSQL server for a run: the one the environment names, or a throwaway one.</summary>
public static class PostgresServers
{
    /// <summary>The environment variable that names an existing server for the tests.</summary>
    public const string ConnectionVariable = "STATUSDATA_TEST_CONNECTION";

    /// <summary>
    /// Uses <c>STATUSDATA_TEST_CONNECTION</c> when it is set; otherwise starts a throwaway server from the
    /// local PostgreSQL binaries. With neither, fails with one message that says how to get either.
    /// </summary>
    /// <param name="connectionVariable">The environment variable to read (benchmarks use their own).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The server; dispose it to stop it (a server named by the environment is left running).</returns>
    public static async Task<IPostgresServer> StartAsync(string connectionVariable = ConnectionVariable, CancellationToken cancellationToken = default)
    {
        var connectionString = Environment.GetEnvironmentVariable(connectionVariable);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new ExistingPostgresServer(connectionString);
        }

        var binaries = PostgresBinaries.Find();
        if (binaries is null)
        {
            throw new InvalidOperationException(
                $"No PostgreSQL server for the tests. Either set {connectionVariable} to a server where you may create databases "
                + "(e.g. \"Host=localhost;Username=postgres;Password=secret\"), or install the PostgreSQL server binaries so a throwaway "
                + "server can be started: 'sudo apt-get install -y postgresql' on Debian/Ubuntu (scripts/test.sh does this for you), "
                + "or set STATUSDATA_PG_BIN to the folder that holds initdb and pg_ctl.");
        }

        return await ThrowawayPostgresServer.StartAsync(binaries, cancellationToken).ConfigureAwait(false);
    }

    private sealed class ExistingPostgresServer(string connectionString) : IPostgresServer
    {
        public string AdminConnectionString { get; } = connectionString;

        public string Description => "server from the environment";

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
