using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>
/// A database that cannot be reached reaches API callers as <see cref="MigrationException"/> with
/// <see cref="MigrationFailure.ConnectionFailed"/>, saying what failed and what to check, never as a bare
/// Npgsql exception; the CLI exits 5 with the same words.
/// </summary>
public sealed class ConnectionFailureTests
{
    private const string Password = "Conn3ct-Pw";

    public static TheoryData<string> Calls => ["up", "down", "rollback", "status", "alembic", "script", "baseline", "grant"];

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task NothingListeningIsConnectionFailedForEveryCall(string call)
    {
        var port = CliTests.ClosedPort();
        var failure = await Assert.ThrowsAsync<MigrationException>(() => CallAsync(call, $"Host=127.0.0.1;Port={port};Username=u;Password={Password};Database=x;Timeout=2"));

        Assert.Equal(MigrationFailure.ConnectionFailed, failure.Failure);
        Assert.StartsWith($"Cannot connect to 127.0.0.1:{port}/x as u: nothing accepts connections at 127.0.0.1:{port}: is the server running, and are Host and Port right? Nothing was changed.", failure.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(failure.InnerException);
        Assert.DoesNotContain(Password, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownDatabaseIsConnectionFailedNamingIt_AndExitFive()
    {
        await using var db = await TestDb.CreateEmptyAsync("conn", Ct);
        var missing = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Database = "statusdata_no_such_database" }.ConnectionString;

        var failure = await Assert.ThrowsAsync<MigrationException>(() => new StatusDataMigrator(missing).UpAsync(cancellationToken: Ct));
        var cli = await CliRunner.RunAsync(["status"], CliRunner.WithConnection(missing), cancellationToken: Ct);

        Assert.Equal(MigrationFailure.ConnectionFailed, failure.Failure);
        Assert.Contains("database 'statusdata_no_such_database' does not exist", failure.Message, StringComparison.Ordinal);
        Assert.Contains("check Database in the connection string, or create the database first. Nothing was changed.", failure.Message, StringComparison.Ordinal);
        Assert.True(cli.ExitCode == 5, cli.ToString());
        Assert.Contains("error: Cannot connect to ", cli.Stderr, StringComparison.Ordinal);
    }

    private static Task CallAsync(string call, string connectionString)
    {
        var migrator = new StatusDataMigrator(connectionString);
        return call switch
        {
            "up" => migrator.UpAsync(cancellationToken: Ct),
            "down" => migrator.DownAsync(0, Ct),
            "rollback" => migrator.RollbackAsync(1, Ct),
            "status" => migrator.GetStatusAsync(Ct),
            "alembic" => migrator.GetAlembicStatusAsync(Ct),
            "script" => migrator.ScriptAsync(FluentMigrator.MigrationDirection.Up, null, Ct),
            "baseline" => migrator.BaselineAsync(cancellationToken: Ct),
            _ => GrantAsync(connectionString),
        };
    }

    private static async Task GrantAsync(string connectionString)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await ApplicationRole.GrantAsync(dataSource, "app", createIfMissing: false, lockTimeout: null, Ct);
    }
}
