namespace StatusData.TestSupport;

/// <summary>Chooses the PostgreSQL server for a run: the one the environment names, or a throwaway one.</summary>
public static class PostgresServers
{
    /// <summary>The environment variable that names an existing server for the tests.</summary>
    public const string ConnectionVariable = "STATUSDATA_TEST_CONNECTION";

    /// <summary>
    /// How to get a server when no connection is given: <c>container</c> (Testcontainers.PostgreSql, the
    /// default) or <c>local</c> (a throwaway server from the local binaries). scripts/test.sh sets it.
    /// </summary>
    public const string ModeVariable = "STATUSDATA_TEST_SERVER";

    /// <summary>
    /// Uses <c>STATUSDATA_TEST_CONNECTION</c> when it is set. Otherwise starts PostgreSQL in a container
    /// (<see cref="ContainerPostgresServer"/>, image <c>STATUSDATA_TEST_IMAGE</c> or postgres:15), or, with
    /// <c>STATUSDATA_TEST_SERVER=local</c>, a throwaway server from the local binaries. Outside CI, when
    /// no container engine answers and the mode was not chosen, it falls back to the local binaries.
    /// </summary>
    /// <param name="connectionVariable">The environment variable to read (benchmarks use their own).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The server; dispose it to stop it (a server named by the environment is left running).</returns>
    public static async Task<IPostgresServer> StartAsync(string connectionVariable = ConnectionVariable, CancellationToken cancellationToken = default)
    {
        var mode = Environment.GetEnvironmentVariable(ModeVariable);
        if (mode is not ("local" or "container" or null or ""))
        {
            throw new InvalidOperationException($"{ModeVariable} is '{mode}'; it takes 'container' or 'local'.");
        }

        if (mode != "local" && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(connectionVariable)))
        {
            try
            {
                return await ContainerPostgresServer.StartAsync(ContainerPostgresServer.ConfiguredImage, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException e) when (e.InnerException is DotNet.Testcontainers.Builders.DockerUnavailableException
                && mode is null or "" && Environment.GetEnvironmentVariable("CI") != "true")
            {
                // A developer's plain `dotnet test` without Docker: the local binaries, as scripts/test.sh would choose.
            }
        }

        return await StartLocalAsync(connectionVariable, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Uses the server <paramref name="connectionVariable"/> names, else a throwaway server from the local
    /// binaries, never a container: for the benchmarks, whose numbers are measured without a container
    /// engine's port proxy in between.
    /// </summary>
    /// <param name="connectionVariable">The environment variable to read.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The server; dispose it to stop it (a server named by the environment is left running).</returns>
    public static async Task<IPostgresServer> StartLocalAsync(string connectionVariable, CancellationToken cancellationToken = default)
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
                $"No PostgreSQL server. Either run the tests with Docker (scripts/test.sh starts an engine as root), set {connectionVariable} to a server where you may create databases "
                + "(e.g. \"Host=localhost;Username=postgres;Password=secret\"), or install the PostgreSQL server binaries so a throwaway "
                + "server can be started: 'sudo apt-get install -y postgresql' on Debian/Ubuntu, "
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
