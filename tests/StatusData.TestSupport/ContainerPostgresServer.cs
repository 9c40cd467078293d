using Npgsql;
using Testcontainers.PostgreSql;

namespace StatusData.TestSupport;

/// <summary>
/// PostgreSQL in a container, from Testcontainers.PostgreSql: the official <c>postgres:15</c> image by
/// default, or the image <c>STATUSDATA_TEST_IMAGE</c> names (scripts/test.sh builds one from Debian's
/// packages where no registry is reachable). Reached only through the port Testcontainers publishes.
/// </summary>
public sealed class ContainerPostgresServer : IPostgresServer
{
    /// <summary>The environment variable that names the image.</summary>
    public const string ImageVariable = "STATUSDATA_TEST_IMAGE";

    /// <summary>Set by scripts/test.sh to label this run's containers, so that its clean-up removes only those.</summary>
    public const string RunVariable = "STATUSDATA_TEST_RUN";

    /// <summary>What a developer with Docker on a connected machine gets.</summary>
    public const string DefaultImage = "postgres:15";

    // Not the username: the CLI masks the password wherever it appears in its output.
    private const string Password = "statusdata-test-secret";

    private readonly PostgreSqlContainer _container;

    private ContainerPostgresServer(PostgreSqlContainer container, string image, string version)
    {
        _container = container;
        Image = image;
        ServerVersion = version;
        AdminConnectionString = new NpgsqlConnectionStringBuilder(container.GetConnectionString()) { IncludeErrorDetail = true }.ConnectionString;
    }

    /// <inheritdoc />
    public string AdminConnectionString { get; }

    /// <summary>The image the container runs.</summary>
    public string Image { get; }

    /// <summary>The server's <c>server_version</c>.</summary>
    public string ServerVersion { get; }

    /// <inheritdoc />
    public string Description => $"PostgreSQL {ServerVersion} in a container of {Image}, on {_container.Hostname}:{_container.GetMappedPublicPort(PostgreSqlBuilder.PostgreSqlPort)}";

    /// <summary>The image the environment asks for, or <see cref="DefaultImage"/>.</summary>
    public static string ConfiguredImage =>
        Environment.GetEnvironmentVariable(ImageVariable) is { Length: > 0 } image ? image : DefaultImage;

    /// <summary>Starts a container and waits until the server accepts connections.</summary>
    /// <param name="image">The image, e.g. <c>postgres:15</c>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server; dispose it to remove the container.</returns>
    public static async Task<ContainerPostgresServer> StartAsync(string image, CancellationToken cancellationToken = default)
    {
        // The same non-durable settings as the throwaway server (Testcontainers adds fsync, synchronous_commit
        // and full_page_writes off), and room for the suites' parallel connections.
        var container = new PostgreSqlBuilder(image)
            .WithPassword(Password)

            // As the throwaway server does: the reliability tests put passwords of their own into connection
            // strings to prove the CLI never prints them, and the server must not reject those.
            .WithEnvironment("POSTGRES_HOST_AUTH_METHOD", "trust")
            .WithCommand("-c", "max_connections=300")
            .WithCommand("-c", "shared_buffers=128MB")
            .WithCommand("-c", "max_wal_size=1GB")
            .WithLabel("org.statusdata.tests", "true")
            .WithLabel("org.statusdata.tests.run", Environment.GetEnvironmentVariable(RunVariable) ?? "none")

            // The published port on 127.0.0.1 only, whatever the engine's default: the server trusts every login.
            .WithCreateParameterModifier(parameters =>
            {
                foreach (var binding in parameters.HostConfig?.PortBindings?.Values.SelectMany(b => b) ?? [])
                {
                    binding.HostIP = "127.0.0.1";
                }
            })
            .Build();
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = new NpgsqlConnection(container.GetConnectionString());
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new ContainerPostgresServer(container, image, connection.ServerVersion);
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _container.DisposeAsync();
}
