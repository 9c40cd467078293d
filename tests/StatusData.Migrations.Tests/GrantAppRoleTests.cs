using System.Security.Cryptography;
using Npgsql;

namespace StatusData.Migrations.Tests;

/// <summary>
/// <c>statusdata-migrate grant-app-role</c>, run as a process as the migrator: the least-privilege role
/// it sets up runs the library's whole surface and cannot change the schema; it refuses what cannot be
/// least privilege; and the password of its connection string is never printed.
/// </summary>
public sealed class GrantAppRoleTests
{
    private const string CliPassword = "s3cret-Grant-pw";

    private static readonly TimeSpan CliTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A LOGIN role, granted by the CLI (run as a process, as the migrator), runs the library's whole
    /// surface, and cannot change the schema. The role's name is hostile on purpose: spaces, quotes and
    /// a statement, so it only works if every identifier is quoted by the server.
    /// </summary>
    [Fact]
    public async Task AnApplicationRoleGrantedByTheCliRunsTheWholeLibraryButCannotChangeTheSchema()
    {
        await using var db = await TestDb.CreateMigratedAsync("leastprivilege", Ct);
        var role = $"sd app \"{Guid.NewGuid().ToString("N")[..8]}\"; DROP TABLE users; --";
        var rolePassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        await ExecuteFormattedAsync(db, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", role, rolePassword);
        try
        {
            var grant = await GrantAppRoleAsync(db, role);
            Assert.True(grant.ExitCode == 0, grant.ToString());
            Assert.Contains("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE", grant.Stdout, StringComparison.Ordinal);
            Assert.Contains("\"sd app \"\"", grant.Stdout, StringComparison.Ordinal); // quoted by quote_ident
            CliRunner.AssertDoesNotPrint(CliPassword, grant);

            // Exactly the four privileges on the two tables, nothing on version_info.
            Assert.Equal(
                ["status_updates:DELETE", "status_updates:INSERT", "status_updates:SELECT", "status_updates:UPDATE", "users:DELETE", "users:INSERT", "users:SELECT", "users:UPDATE"],
                await db.ColumnAsync<string>("SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants WHERE grantee = $1 ORDER BY 1", Ct, role));

            var asRole = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = rolePassword, Pooling = true };
            await using (var dataSource = NpgsqlDataSource.Create(asRole.ConnectionString))
            {
                await RunTheWholeSurfaceAsync(new StatusDatabase(dataSource));

                foreach (var forbidden in new[]
                {
                    "DROP TABLE status_updates",
                    "CREATE TABLE intruder (id integer)",
                    "ALTER TABLE users ADD COLUMN intruder integer",
                    "TRUNCATE users",
                    "CREATE INDEX intruder ON users (xp)",
                    "SELECT count(*) FROM version_info",
                    "CREATE SCHEMA intruder",
                })
                {
                    var error = await Assert.ThrowsAsync<PostgresException>(async () =>
                    {
                        await using var command = dataSource.CreateCommand(forbidden);
                        await command.ExecuteNonQueryAsync(Ct);
                    });
                    Assert.True(error.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{forbidden}: {error.SqlState} {error.MessageText}");
                }
            }

            Assert.Equal(2L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('users', 'status_updates')", Ct));

            // Idempotent: granting again changes nothing and succeeds.
            var again = await GrantAppRoleAsync(db, role);
            Assert.True(again.ExitCode == 0, again.ToString());
        }
        finally
        {
            await DropRoleAsync(db, role);
        }
    }

    [Fact]
    public async Task GrantAppRoleRefusesAMissingRoleWithoutCreateASuperuserAndCreatesANologinRoleWithCreate()
    {
        await using var db = await TestDb.CreateMigratedAsync("grantrefusals", Ct);
        var role = "sd_group_" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var missing = await GrantAppRoleAsync(db, role);
            Assert.True(missing.ExitCode == 2, missing.ToString());
            Assert.Contains("does not exist", missing.Stderr, StringComparison.Ordinal);
            Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_roles WHERE rolname = $1", Ct, role));

            var superuser = new NpgsqlConnectionStringBuilder(db.ConnectionString).Username!;
            var refused = await GrantAppRoleAsync(db, superuser);
            Assert.True(refused.ExitCode == 3, refused.ToString());
            Assert.Contains("superuser", refused.Stderr, StringComparison.Ordinal);
            CliRunner.AssertDoesNotPrint(CliPassword, refused);

            var created = await GrantAppRoleAsync(db, role, "--create");
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Contains("CREATE ROLE " + role + " NOLOGIN", created.Stdout, StringComparison.Ordinal);

            Assert.False(await db.ScalarAsync<bool>("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", Ct, role));
            Assert.True(await db.ScalarAsync<bool>("SELECT has_table_privilege($1, 'users', 'INSERT')", Ct, role));
            Assert.False(await db.ScalarAsync<bool>("SELECT has_table_privilege($1, 'users', 'TRUNCATE')", Ct, role));
        }
        finally
        {
            await DropRoleAsync(db, role);
        }
    }

    /// <summary>
    /// Another transaction's uncommitted GRANT on users holds the table's catalog row: the command's
    /// REVOKE waits for it at most --lock-timeout, and then fails as a lock timeout, exit 4, like up.
    /// Through the API without a lockTimeout, the session's own lock_timeout bounds the wait (here set
    /// through the connection string's Options, as a role's default would).
    /// </summary>
    [Fact]
    public async Task AGrantThatWaitsLongerThanTheLockTimeoutExitsWithFourAndChangesNothing()
    {
        await using var db = await TestDb.CreateMigratedAsync("grantlock", Ct);
        var role = "sd_locked_" + Guid.NewGuid().ToString("N")[..8];
        var other = "sd_other_" + Guid.NewGuid().ToString("N")[..8];
        await db.ExecuteAsync($"CREATE ROLE {role} NOLOGIN; CREATE ROLE {other} NOLOGIN", Ct);
        try
        {
            await using (var holder = new NpgsqlConnection(db.ConnectionString + ";Pooling=false"))
            {
                await holder.OpenAsync(Ct);
                await using var transaction = await holder.BeginTransactionAsync(Ct);
                await using (var grant = new NpgsqlCommand($"GRANT SELECT ON users TO {other}", holder, transaction))
                {
                    await grant.ExecuteNonQueryAsync(Ct);
                }

                var cli = await GrantAppRoleAsync(db, role, "--lock-timeout", "1");

                Assert.True(cli.ExitCode == 4, cli.ToString());
                Assert.Contains("55P03", cli.Stderr, StringComparison.Ordinal);
                Assert.Contains("lock timeout", cli.Stderr, StringComparison.Ordinal);
                Assert.Contains("Nothing was changed", cli.Stderr, StringComparison.Ordinal);
                Assert.Empty(cli.Stdout);
                Assert.DoesNotContain("   at ", cli.Stderr, StringComparison.Ordinal);
                CliRunner.AssertDoesNotPrint(CliPassword, cli);

                var sessionBound = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Options = "-c lock_timeout=1000" }.ConnectionString;
                await using (var dataSource = NpgsqlDataSource.Create(sessionBound))
                {
                    var e = await Assert.ThrowsAsync<MigrationException>(() => ApplicationRole.GrantAsync(dataSource, role, cancellationToken: Ct));
                    Assert.Equal(MigrationFailure.LockTimeout, e.Failure);
                    await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ApplicationRole.GrantAsync(dataSource, role, lockTimeout: TimeSpan.Zero, cancellationToken: Ct));
                }

                await transaction.RollbackAsync(Ct);
            }

            Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = $1", Ct, role));
            const string grantsOnDatabaseAndSchema = """
                SELECT count(*)
                FROM (SELECT datacl AS acl FROM pg_database WHERE datname = current_database()
                      UNION ALL SELECT nspacl FROM pg_namespace WHERE nspname = current_schema()) granted,
                     aclexplode(granted.acl) entry
                WHERE entry.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
                """;
            Assert.Equal(0L, await db.ScalarAsync<long>(grantsOnDatabaseAndSchema, Ct, role)); // the CONNECT and USAGE before the wait were rolled back
        }
        finally
        {
            await DropRoleAsync(db, role);
            await DropRoleAsync(db, other);
        }
    }

    private static async Task RunTheWholeSurfaceAsync(StatusDatabase db)
    {
        var name = UniqueName("app");
        var user = await db.Users.CreateAsync(name, "App", Email(name), "hash", null, Ct);
        user = await db.Users.UpdateProfileAsync(user.Id, "App Renamed", Email(UniqueName("user")), "https://example.com/a.png", Ct);
        await db.Users.SetPasswordHashAsync(user.Id, "new hash", Ct);
        Assert.NotNull(await db.Users.GetByUsernameAsync(name, Ct));
        Assert.NotNull(await db.Users.GetByEmailAsync(user.Email, Ct));
        var posted = await db.StatusUpdates.PostAsync(user.Id, "as the app role", "general", 5, null, Ct);
        Assert.Equal(2, await db.StatusUpdates.ImportAsync(
            [
                new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 1", "general", DateTime.UtcNow),
                new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 2", "general", DateTime.UtcNow),
            ],
            Ct));
        Assert.Equal(3, (await db.StatusUpdates.GetFeedAsync(10, null, Ct)).Items.Count);
        Assert.Equal(3, (await db.StatusUpdates.ListByUserAsync(user.Id, 10, null, Ct)).Items.Count);
        Assert.Equal(3, (await db.StatusUpdates.ListByCategoryAsync("general", 10, null, Ct)).Items.Count);
        Assert.Equal(posted, await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(3, (await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct))!.StatusUpdates.Count);
        Assert.Single(await db.Users.GetLeaderboardAsync(10, Ct));
        Assert.Single((await db.Users.ListAsync(10, null, Ct)).Items);
        Assert.True(await db.StatusUpdates.DeleteAsync(posted.StatusUpdate.Id, Ct));
        var transaction = await db.BeginTransactionAsync(Ct);
        await using (transaction)
        {
            await transaction.StatusUpdates.PostAsync(user.Id, "in a transaction", "general", 1, null, Ct);
            await transaction.CommitAsync(Ct);
        }

        Assert.True(await db.Users.DeleteAsync(user.Id, Ct));
        Assert.Null(await db.Users.GetByIdAsync(user.Id, Ct));
    }

    private static async Task ExecuteFormattedAsync(TestDb db, string formatSql, params object[] args)
    {
        var statement = await db.ScalarAsync<string>(formatSql, Ct, args);
        await db.ExecuteAsync(statement, Ct);
    }

    private static async Task DropRoleAsync(TestDb db, string role)
    {
        if (await db.ScalarAsync<long>("SELECT count(*) FROM pg_roles WHERE rolname = $1", Ct, role) == 1)
        {
            await ExecuteFormattedAsync(db, "SELECT format('DROP OWNED BY %I', $1::text)", role);
            await ExecuteFormattedAsync(db, "SELECT format('DROP ROLE %I', $1::text)", role);
        }
    }

    /// <summary>Runs <c>grant-app-role</c> with the arguments, connected as the test server's superuser (with a password, which must not be printed).</summary>
    private static Task<ProcessResult> GrantAppRoleAsync(TestDb db, params string[] arguments) =>
        CliRunner.RunAsync(["grant-app-role", .. arguments, "--connection", WithPassword(db.ConnectionString)], timeout: CliTimeout, cancellationToken: Ct);

    private static string WithPassword(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = CliPassword }.ConnectionString;

    private static string UniqueName(string prefix) => $"{prefix}_{Guid.NewGuid().ToString("N")[..12]}";

    private static string Email(string name) => $"{name}@example.com";
}
