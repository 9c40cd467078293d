using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.ScaleOut;

/// <summary>
/// Class fixture: a throwaway primary (migrated) and a streaming standby made from it with
/// <c>pg_basebackup -R</c>, both on 127.0.0.1, and a multi-host data source over both (primary first).
/// Each class that takes it gets its own pair, so a class may stop its standby.
/// </summary>
public sealed class ReplicaPair : IAsyncLifetime
{
    private ThrowawayPostgresServer? _primary;
    private ThrowawayPostgresServer? _standby;

    public ThrowawayPostgresServer Primary => _primary ?? throw new InvalidOperationException("Not initialized.");

    public ThrowawayPostgresServer Standby => _standby ?? throw new InvalidOperationException("Not initialized.");

    /// <summary><c>Host=127.0.0.1:primary,127.0.0.1:standby</c>, database postgres.</summary>
    public string MultiHostConnectionString =>
        $"Host=127.0.0.1:{Primary.Port},127.0.0.1:{Standby.Port};Username=postgres;Database=postgres;Include Error Detail=true";

    public async ValueTask InitializeAsync()
    {
        _primary = await ThrowawayPostgresServer.StartAsync();
        await new StatusDataMigrator(_primary.AdminConnectionString).UpAsync();

        _standby = await _primary.StartStandbyAsync();
        await _primary.WaitForReplayAsync(_standby);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_standby is not null)
        {
            await _standby.DisposeAsync();
        }

        if (_primary is not null)
        {
            await _primary.DisposeAsync();
        }
    }

    /// <summary>Runs one statement on one server, outside the library.</summary>
    public static async Task<object?> ScalarAsync(ThrowawayPostgresServer server, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(server.AdminConnectionString + ";Pooling=false");
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }
}
