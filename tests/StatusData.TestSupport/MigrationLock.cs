using Npgsql;

namespace StatusData.TestSupport;

/// <summary>The migration lock as a deployment sees it.</summary>
public static class MigrationLock
{
    /// <summary>
    /// The advisory-lock key every StatusData migration runner takes (<c>pg_advisory_xact_lock</c>), as
    /// shipped: StatusData.Migrations.Internal.MigrationLock.Key, 0x5354415455534441, the ASCII bytes of "STATUSDA". A literal on
    /// purpose, not the code's constant: runners of different releases exclude each other only while they
    /// take the same key, so changing it breaks running deployments (an old and a new runner would migrate
    /// one database at once). The tests hold this key and expect the runner and its scripts to wait for it.
    /// </summary>
    public const long Key = 6004496033656292417;

    /// <summary>
    /// Takes the lock on a connection of its own, as another deployment's runner would hold it. The
    /// connection is not pooled: closing or disposing it ends its session, and with it the lock.
    /// </summary>
    public static async Task<NpgsqlConnection> HoldAsync(string connectionString, string applicationName, CancellationToken cancellationToken)
    {
        var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = applicationName }.ConnectionString);
        try
        {
            await holder.OpenAsync(cancellationToken);
            await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Key})", holder);
            await take.ExecuteNonQueryAsync(cancellationToken);
            return holder;
        }
        catch
        {
            await holder.DisposeAsync();
            throw;
        }
    }
}
