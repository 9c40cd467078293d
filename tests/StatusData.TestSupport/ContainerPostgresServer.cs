using Npgsql;
using StatusData.Testing;

namespace StatusData.TestSupport;

/// <summary>
/// PostgreSQL in a container, started by the shipped StatusData.Testing package (<see cref="StatusDataTestServer"/>, on
/// Testcontainers.PostgreSql: labelled with host and process, published on 127.0.0.1 only, its template migrated): the
/// official <c>postgres:15</c> image by default, or the image <c>STATUSDATA_TEST_IMAGE</c> names (scripts/test.sh builds
/// one from Debian's packages where no registry is reachable). What only this repository's tests need is added through
/// <see cref="StatusDataTestServerOptions.ConfigureContainer"/>.
/// </summary>
public sealed class ContainerPostgresServer : IPostgresServer
{
    /// <summary>The environment variable that names the image.</summary>
    public const string ImageVariable = StatusDataTestServerOptions.ImageVariable;

    /// <summary>Set by scripts/test.sh to label this run's containers, so that its clean-up removes only those.</summary>
    public const string RunVariable = "STATUSDATA_TEST_RUN";

    // Not the username: the CLI masks the password wherever it appears in its output.
    private const string Password = "statusdata-test-secret";

    private ContainerPostgresServer(StatusDataTestServer server, string image, string version)
    {
        TestServer = server;
        Image = image;
        ServerVersion = version;
        AdminConnectionString = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { IncludeErrorDetail = true }.ConnectionString;
    }

    /// <summary>The package's server: its template and copies are what <see cref="TestDatabases"/> hands out.</summary>
    public StatusDataTestServer TestServer { get; }

    /// <inheritdoc />
    public string AdminConnectionString { get; }

    /// <summary>The image the container runs.</summary>
    public string Image { get; }

    /// <summary>The server's <c>server_version</c>.</summary>
    public string ServerVersion { get; }

    /// <inheritdoc />
    public string Description
    {
        get
        {
            var connection = new NpgsqlConnectionStringBuilder(AdminConnectionString);
            return $"PostgreSQL {ServerVersion} in a container of {Image}, on {connection.Host}:{connection.Port}";
        }
    }

    /// <summary>The image the environment asks for, or StatusData.Testing's default (<c>postgres:15</c>).</summary>
    public static string ConfiguredImage => new StatusDataTestServerOptions().Image;

    /// <summary>Starts a container and waits until the server accepts connections and the template is migrated.</summary>
    /// <param name="image">The image, e.g. <c>postgres:15</c>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server; dispose it to remove the container.</returns>
    public static async Task<ContainerPostgresServer> StartAsync(string image, CancellationToken cancellationToken = default)
    {
        var server = await StatusDataTestServer.StartAsync(
            new StatusDataTestServerOptions
            {
                Image = image,
                ConnectionString = null, // a container, whatever STATUSDATA_TEST_CONNECTION says
                ConfigureContainer = builder => builder
                    .WithPassword(Password)

                    // The reliability tests put passwords of their own into connection strings to prove the CLI never
                    // prints them, and the server must not reject those.
                    .WithEnvironment("POSTGRES_HOST_AUTH_METHOD", "trust")

                    // Room for the suites' parallel connections; the non-durable settings come from Testcontainers.
                    .WithCommand("-c", "max_connections=300")
                    .WithCommand("-c", "shared_buffers=128MB")
                    .WithCommand("-c", "max_wal_size=1GB")

                    // scripts/test.sh removes this run's containers by this label when it ends, even after a crash.
                    .WithLabel("org.statusdata.tests.run", Environment.GetEnvironmentVariable(RunVariable) ?? "none"),
            },
            cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = new NpgsqlConnection(server.AdminConnectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new ContainerPostgresServer(server, image, connection.ServerVersion);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => TestServer.DisposeAsync();
}
