using Npgsql;

namespace StatusData.Tests.Harness;

/// <summary>
/// Two classes insert the same unique username into "their" database. If the harness gave them one
/// shared database, whichever ran second would hit users_username_key and fail.
/// </summary>
public sealed class IsolationProbeA(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task EachTestClassGetsItsOwnMigratedDatabase() =>
        await IsolationProbe.InsertAndCheckAsync(database, "A");
}

/// <inheritdoc cref="IsolationProbeA"/>
public sealed class IsolationProbeB(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task EachTestClassGetsItsOwnMigratedDatabase() =>
        await IsolationProbe.InsertAndCheckAsync(database, "B");
}

internal static class IsolationProbe
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> DatabaseByProbe = new();

    public static async Task InsertAndCheckAsync(DatabaseFixture database, string probe)
    {
        await using var command = database.DataSource.CreateCommand("""
            INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, created_at)
            VALUES (gen_random_uuid(), 'isolation-probe', 'Probe', 'probe@example.com', 'x', 0, 0, 0, now())
            RETURNING current_database()
            """);
        var name = (string)(await command.ExecuteScalarAsync(Ct))!;

        Assert.Equal(database.DatabaseName, name);
        DatabaseByProbe[probe] = name;
        foreach (var (other, otherName) in DatabaseByProbe)
        {
            if (other != probe)
            {
                Assert.NotEqual(otherName, name);
            }
        }
    }
}

[Trait("Category", "Slow")] // each test starts a server of its own
public sealed class ThrowawayServerTests
{
    [Fact]
    public async Task DisposingTheServerStopsItAndDeletesItsFolder()
    {
        var server = await ThrowawayPostgresServer.StartAsync(Ct);
        await using (var connection = new NpgsqlConnection(server.AdminConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = new NpgsqlCommand("SHOW fsync", connection);
            Assert.Equal("off", await command.ExecuteScalarAsync(Ct));
        }

        NpgsqlConnection.ClearAllPools();
        await server.DisposeAsync();

        Assert.False(Directory.Exists(server.RootDirectory));
        Assert.False(Processes.IsRunning(server.ProcessId));
    }

    [Fact]
    public async Task TheServerListensOnItsPrivateUnixSocketToo()
    {
        await using var server = await ThrowawayPostgresServer.StartAsync(Ct);
        await using var connection = new NpgsqlConnection(server.SocketConnectionString + ";Pooling=false");
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT inet_server_addr() IS NULL", connection);

        Assert.True((bool)(await command.ExecuteScalarAsync(Ct))!); // NULL address: a unix-socket connection
    }

    [Fact]
    public async Task AServerLeftBehindByACrashedRunIsStoppedAndDeletedByTheNextRun()
    {
        var abandoned = await ThrowawayPostgresServer.StartAsync(Ct);

        // Pretend its owner crashed: point owner.pid at a process that has exited.
        using (var exited = ChildProcess.Start("true", []))
        {
            await exited.WaitAsync(cancellationToken: Ct);
            await File.WriteAllTextAsync(Path.Combine(abandoned.RootDirectory, "owner.pid"), exited.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct);
        }

        var removed = await ThrowawayPostgresServer.CleanUpAbandonedAsync(Ct);

        Assert.True(removed >= 1);
        Assert.False(Directory.Exists(abandoned.RootDirectory));
        Assert.False(Processes.IsRunning(abandoned.ProcessId));
    }
}
