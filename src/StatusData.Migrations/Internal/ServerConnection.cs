using System.Net.Sockets;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Every command's first connection: a failure to connect becomes a <see cref="MigrationException"/> with
/// <see cref="MigrationFailure.ConnectionFailed"/> that says what failed and what to check, told by SQLSTATE and
/// exception type (not by message text), and never names the password.
/// </summary>
internal static class ServerConnection
{
    public static async Task<NpgsqlConnection> OpenAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
        {
            var target = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
            var where = $"{target.Host}:{target.Port}";
            var user = target.Username ?? Environment.UserName;
            var database = target.Database ?? user;
            var cause = e switch
            {
                PostgresException { SqlState: PostgresErrorCodes.InvalidPassword } =>
                    $"the server refused the password of user '{user}': check Password in the connection string",
                PostgresException { SqlState: PostgresErrorCodes.InvalidAuthorizationSpecification } =>
                    $"the server does not let user '{user}' connect to database '{database}' from here (pg_hba.conf, or no such role): check Username, or ask the database's administrator",
                PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } =>
                    $"database '{database}' does not exist on {where}: check Database in the connection string, or create the database first",
                PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } =>
                    $"user '{user}' may not connect to database '{database}' (no CONNECT privilege): grant it, or use another user",
                PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow } =>
                    "the server is starting up, shutting down or recovering: run again in a moment",
                PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } =>
                    "the server has no free connection slots (max_connections): run again when connections are free",
                PostgresException p => $"the server refused the connection: SQLSTATE {p.SqlState}",
                { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } } =>
                    $"nothing accepts connections at {where}: is the server running, and are Host and Port right?",
                { InnerException: SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } } =>
                    $"host '{target.Host}' cannot be resolved: check Host in the connection string",
                { InnerException: TimeoutException } =>
                    $"no answer from {where} within {target.Timeout} s (the connection string's Timeout): check the address, the network and firewalls",
                _ => "the connection failed",
            };
            throw new MigrationException(
                MigrationFailure.ConnectionFailed,
                $"Cannot connect to {where}/{database} as {user}: {cause}{(cause.EndsWith('?') ? string.Empty : ".")} Nothing was changed. ({e.Message.TrimEnd('.')})",
                e);
        }
    }
}
