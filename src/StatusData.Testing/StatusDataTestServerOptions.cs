using Testcontainers.PostgreSql;

namespace StatusData.Testing;

/// <summary>
/// Where <see cref="StatusDataTestServer"/> gets PostgreSQL. Each setting defaults to its environment
/// variable, so CI and developers can choose without code; a value set in code wins over the environment,
/// and a connection string (from either) wins over a container.
/// </summary>
public sealed class StatusDataTestServerOptions
{
    /// <summary>The environment variable that names a server instead of a container: <c>STATUSDATA_TEST_CONNECTION</c>.</summary>
    public const string ConnectionStringVariable = "STATUSDATA_TEST_CONNECTION";

    /// <summary>The environment variable that names the container image: <c>STATUSDATA_TEST_IMAGE</c>.</summary>
    public const string ImageVariable = "STATUSDATA_TEST_IMAGE";

    /// <summary>The image used when neither code nor the environment names one: <c>postgres:15</c>.</summary>
    public const string DefaultImage = "postgres:15";

    /// <summary>
    /// The PostgreSQL image to run in a container when no <see cref="ConnectionString"/> is given. Defaults to
    /// <c>STATUSDATA_TEST_IMAGE</c>, else <see cref="DefaultImage"/>.
    /// </summary>
    public string Image { get; init; } = Environment.GetEnvironmentVariable(ImageVariable) is { Length: > 0 } image ? image : DefaultImage;

    /// <summary>
    /// A server to use instead of a container, as a user who may <c>CREATE DATABASE</c>; the databases are
    /// created next to the one it names. Defaults to <c>STATUSDATA_TEST_CONNECTION</c>; <see langword="null"/>
    /// (neither set) starts a container of <see cref="Image"/>.
    /// </summary>
    public string? ConnectionString { get; init; } = Environment.GetEnvironmentVariable(ConnectionStringVariable) is { Length: > 0 } connectionString ? connectionString : null;

    /// <summary>
    /// Adjusts the container before it starts, on Testcontainers' own builder: server settings
    /// (<c>builder.WithCommand("-c", "max_connections=300")</c>), a password, environment, labels of your own. Applied
    /// after StatusData.Testing's labels and its 127.0.0.1-only port binding; not used with a <see cref="ConnectionString"/>.
    /// </summary>
    public Func<PostgreSqlBuilder, PostgreSqlBuilder>? ConfigureContainer { get; init; }
}
