namespace StatusData.TestSupport;

/// <summary>
/// A PostgreSQL server on which the current user may create databases. This is the seam where a
/// container-based provider (Testcontainers.PostgreSql) plugs in wherever it restores and Docker runs:
/// implement this interface and return it from <see cref="PostgresServers.StartAsync"/>.
/// </summary>
public interface IPostgresServer : IAsyncDisposable
{
    /// <summary>A connection string for the server's maintenance database, as a user who may create databases.</summary>
    string AdminConnectionString { get; }

    /// <summary>A short description for logs, e.g. "throwaway server on 127.0.0.1:41234".</summary>
    string Description { get; }
}
