using System.Collections;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using StatusData.Tests.Support;
using StatusData.TestSupport;

namespace StatusData.Tests.Reliability;

/// <summary>
/// The password hash never leaks into ToString, exception messages or Npgsql's logs; and the application
/// can run as a least-privilege role that <c>statusdata-migrate grant-app-role</c> sets up. (That SQL is
/// never built from values: <see cref="SqlIsConstantTests"/>.)
/// </summary>
public sealed class SecurityTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private const string CliPassword = "s3cret-Grant-pw";

    [Fact]
    public async Task ThePasswordHashNeverAppearsInToString()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = new StatusDatabase(database.DataSource);
        var hash = "pbkdf2-sha256$600000$" + Guid.NewGuid().ToString("N");
        var user = await db.Users.CreateAsync(Unique.Name(), "Printed", Unique.Email(Unique.Name()), hash, null, ct);
        var posted = await db.StatusUpdates.PostAsync(user.Id, "hello", "general", 1, null, ct);
        var loaded = await db.Users.GetWithStatusUpdatesAsync(user.Id, ct);

        Assert.Equal(hash, user.PasswordHash);
        foreach (var printed in new[] { user.ToString(), posted.ToString(), loaded!.ToString(), (await db.Users.GetByIdAsync(user.Id, ct))!.ToString() })
        {
            Assert.DoesNotContain(hash, printed, StringComparison.Ordinal);
            Assert.DoesNotContain("pbkdf2", printed, StringComparison.Ordinal);
        }

        Assert.Contains("PasswordHash = ***", user.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePasswordHashNeverAppearsInExceptionsEvenWithErrorDetailOn()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.True(new NpgsqlConnectionStringBuilder(database.ConnectionString).IncludeErrorDetail, "the worst case: the server's error details are included");
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var first = await db.Users.CreateAsync(name, "First", Unique.Email(name), "hash-of-the-first-" + Guid.NewGuid(), null, ct);
        var secondHash = "hash-of-the-second-" + Guid.NewGuid();

        var sameEmail = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(Unique.Name(), "Second", first.Email, secondHash, null, ct));
        var sameUsername = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Second", Unique.Email(Unique.Name()), secondHash, null, ct));
        var other = await db.Users.CreateAsync(Unique.Name(), "Other", Unique.Email(Unique.Name()), secondHash, null, ct);
        var takenEmail = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.UpdateProfileAsync(other.Id, "Other", first.Email, null, ct));

        Assert.Equal("email", sameEmail.Field);
        Assert.Equal("username", sameUsername.Field);
        Assert.Equal("email", takenEmail.Field);
        foreach (var error in new Exception[] { sameEmail, sameUsername, takenEmail })
        {
            // ToString() covers the message, the inner PostgresException (with its Detail) and the stack.
            Assert.DoesNotContain(secondHash, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(first.PasswordHash, error.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ThePasswordHashNeverAppearsInNpgsqlLogsUnlessParameterLoggingIsSwitchedOn()
    {
        var ct = TestContext.Current.CancellationToken;
        var hash = "pbkdf2-sha256$600000$" + Guid.NewGuid().ToString("N");
        var newHash = "pbkdf2-sha256$600000$" + Guid.NewGuid().ToString("N");

        // The default: a logger factory at Trace level, parameter logging off.
        var quiet = await RunWithLoggingAsync(enableParameterLogging: false);
        Assert.NotEmpty(quiet);
        Assert.Contains(quiet, line => line.Contains("INSERT INTO users", StringComparison.Ordinal));
        Assert.DoesNotContain(quiet, line => line.Contains(hash, StringComparison.Ordinal) || line.Contains(newHash, StringComparison.Ordinal));

        // Control: with parameter logging on, the same capture does see parameters, so the check above can fail.
        var loud = await RunWithLoggingAsync(enableParameterLogging: true);
        Assert.Contains(loud, line => line.Contains(newHash, StringComparison.Ordinal));

        async Task<IReadOnlyCollection<string>> RunWithLoggingAsync(bool enableParameterLogging)
        {
            using var loggerFactory = new CapturingLoggerFactory();
            var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
            builder.UseLoggerFactory(loggerFactory);
            builder.EnableParameterLogging(enableParameterLogging);
            await using var dataSource = builder.Build();
            var db = new StatusDatabase(dataSource);
            var name = Unique.Name();
            var user = await db.Users.CreateAsync(name, "Logged", Unique.Email(name), enableParameterLogging ? "other-" + Guid.NewGuid() : hash, null, ct);
            await db.Users.SetPasswordHashAsync(user.Id, newHash, ct);
            await db.Users.GetByIdAsync(user.Id, ct);
            await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Dup", Unique.Email(Unique.Name()), newHash, null, ct));
            await db.Users.DeleteAsync(user.Id, ct);
            return loggerFactory.Lines;
        }
    }

    /// <summary>
    /// A LOGIN role, granted by the CLI (run as a process, as the migrator), runs the library's whole
    /// surface, and cannot change the schema. The role's name is hostile on purpose: spaces, quotes and
    /// a statement, so it only works if every identifier is quoted by the server.
    /// </summary>
    [Fact]
    public async Task AnApplicationRoleGrantedByTheCliRunsTheWholeLibraryButCannotChangeTheSchema()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await (await SharedPostgres.GetAsync()).CreateMigratedAsync("leastprivilege", ct);
        await using var admin = NpgsqlDataSource.Create(connectionString);
        var role = $"sd app \"{Guid.NewGuid().ToString("N")[..8]}\"; DROP TABLE users; --";
        var rolePassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        await ExecuteFormattedAsync(admin, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", role, rolePassword);
        try
        {
            using (var grant = await CliProcess.RunAsync(["grant-app-role", role, "--connection", WithPassword(connectionString)]))
            {
                Assert.True(grant.ExitCode == 0, grant.ToString());
                Assert.Contains("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE", grant.StandardOutput, StringComparison.Ordinal);
                Assert.Contains("\"sd app \"\"", grant.StandardOutput, StringComparison.Ordinal); // quoted by quote_ident
                Assert.DoesNotContain(CliPassword, grant.StandardOutput + grant.StandardError, StringComparison.Ordinal);
            }

            // Exactly the four privileges on the two tables, nothing on version_info.
            Assert.Equal(
                ["status_updates:DELETE", "status_updates:INSERT", "status_updates:SELECT", "status_updates:UPDATE", "users:DELETE", "users:INSERT", "users:SELECT", "users:UPDATE"],
                await Sql.ColumnAsync<string>(admin, "SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants WHERE grantee = $1 ORDER BY 1", role));

            var asRole = new NpgsqlConnectionStringBuilder(connectionString) { Username = role, Password = rolePassword, Pooling = true };
            await using (var dataSource = NpgsqlDataSource.Create(asRole.ConnectionString))
            {
                await RunTheWholeSurfaceAsync(new StatusDatabase(dataSource), ct);

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
                    var error = await Assert.ThrowsAsync<PostgresException>(() => Sql.ExecuteAsync(dataSource, forbidden));
                    Assert.True(error.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{forbidden}: {error.SqlState} {error.MessageText}");
                }
            }

            Assert.Equal(2L, await Sql.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('users', 'status_updates')"));

            // Idempotent: granting again changes nothing and succeeds.
            using var again = await CliProcess.RunAsync(["grant-app-role", role, "--connection", WithPassword(connectionString)]);
            Assert.True(again.ExitCode == 0, again.ToString());
        }
        finally
        {
            await DropRoleAsync(admin, role);
        }
    }

    [Fact]
    public async Task GrantAppRoleRefusesAMissingRoleWithoutCreateASuperuserAndCreatesANologinRoleWithCreate()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await (await SharedPostgres.GetAsync()).CreateMigratedAsync("grantrefusals", ct);
        await using var admin = NpgsqlDataSource.Create(connectionString);
        var role = "sd_group_" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var missing = await CliProcess.RunAsync(["grant-app-role", role, "--connection", WithPassword(connectionString)]))
            {
                Assert.True(missing.ExitCode == 2, missing.ToString());
                Assert.Contains("does not exist", missing.StandardError, StringComparison.Ordinal);
                Assert.Equal(0L, await Sql.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role));
            }

            var superuser = new NpgsqlConnectionStringBuilder(connectionString).Username!;
            using (var refused = await CliProcess.RunAsync(["grant-app-role", superuser, "--connection", WithPassword(connectionString)]))
            {
                Assert.True(refused.ExitCode == 3, refused.ToString());
                Assert.Contains("superuser", refused.StandardError, StringComparison.Ordinal);
                Assert.DoesNotContain(CliPassword, refused.StandardOutput + refused.StandardError, StringComparison.Ordinal);
            }

            using (var created = await CliProcess.RunAsync(["grant-app-role", role, "--create", "--connection", WithPassword(connectionString)]))
            {
                Assert.True(created.ExitCode == 0, created.ToString());
                Assert.Contains("CREATE ROLE " + role + " NOLOGIN", created.StandardOutput, StringComparison.Ordinal);
            }

            Assert.False(await Sql.ScalarAsync<bool>(admin, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role));
            Assert.True(await Sql.ScalarAsync<bool>(admin, "SELECT has_table_privilege($1, 'users', 'INSERT')", role));
            Assert.False(await Sql.ScalarAsync<bool>(admin, "SELECT has_table_privilege($1, 'users', 'TRUNCATE')", role));
        }
        finally
        {
            await DropRoleAsync(admin, role);
        }
    }

    /// <summary>The hashing docs/reliability.md recommends: PBKDF2-HMAC-SHA256, 600,000 iterations; its output fits password_hash and verifies.</summary>
    [Fact]
    public async Task TheDocumentedPasswordHashFitsTheColumnAndVerifies()
    {
        var ct = TestContext.Current.CancellationToken;
        var stored = PasswordHashing.Hash("correct horse battery staple");
        Assert.Equal(90, stored.Length); // docs/reliability.md says so; the column takes 255
        Assert.StartsWith("pbkdf2-sha256$600000$", stored, StringComparison.Ordinal);

        var db = new StatusDatabase(database.DataSource);
        var user = await db.Users.CreateAsync(Unique.Name(), "Hashed", Unique.Email(Unique.Name()), stored, null, ct);
        var loaded = (await db.Users.GetByIdAsync(user.Id, ct))!;
        Assert.True(PasswordHashing.Verify("correct horse battery staple", loaded.PasswordHash));
        Assert.False(PasswordHashing.Verify("Correct horse battery staple", loaded.PasswordHash));
    }

    private static async Task RunTheWholeSurfaceAsync(StatusDatabase db, CancellationToken ct)
    {
        var name = Unique.Name("app");
        var user = await db.Users.CreateAsync(name, "App", Unique.Email(name), "hash", null, ct);
        user = await db.Users.UpdateProfileAsync(user.Id, "App Renamed", Unique.Email(Unique.Name()), "https://example.com/a.png", ct);
        await db.Users.SetPasswordHashAsync(user.Id, "new hash", ct);
        Assert.NotNull(await db.Users.GetByUsernameAsync(name, ct));
        Assert.NotNull(await db.Users.GetByEmailAsync(user.Email, ct));
        var posted = await db.StatusUpdates.PostAsync(user.Id, "as the app role", "general", 5, null, ct);
        Assert.Equal(2, await db.StatusUpdates.ImportAsync(
            [
                new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 1", "general", DateTime.UtcNow),
                new StatusUpdate(Guid.CreateVersion7(), user.Id, "imported 2", "general", DateTime.UtcNow),
            ],
            ct));
        Assert.Equal(3, (await db.StatusUpdates.GetFeedAsync(10, null, ct)).Items.Count);
        Assert.Equal(3, (await db.StatusUpdates.ListByUserAsync(user.Id, 10, null, ct)).Items.Count);
        Assert.Equal(3, (await db.StatusUpdates.ListByCategoryAsync("general", 10, null, ct)).Items.Count);
        Assert.Equal(posted, await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, ct));
        Assert.Equal(3, (await db.Users.GetWithStatusUpdatesAsync(user.Id, ct))!.StatusUpdates.Count);
        Assert.Single(await db.Users.GetLeaderboardAsync(10, ct));
        Assert.Single((await db.Users.ListAsync(10, null, ct)).Items);
        Assert.True(await db.StatusUpdates.DeleteAsync(posted.StatusUpdate.Id, ct));
        var transaction = await db.BeginTransactionAsync(ct);
        await using (transaction)
        {
            await transaction.StatusUpdates.PostAsync(user.Id, "in a transaction", "general", 1, null, ct);
            await transaction.CommitAsync(ct);
        }

        Assert.True(await db.Users.DeleteAsync(user.Id, ct));
        Assert.Null(await db.Users.GetByIdAsync(user.Id, ct));
    }

    private static async Task ExecuteFormattedAsync(NpgsqlDataSource admin, string formatSql, params object[] args)
    {
        var statement = await Sql.ScalarAsync<string>(admin, formatSql, args);
        await Sql.ExecuteAsync(admin, statement);
    }

    private static async Task DropRoleAsync(NpgsqlDataSource admin, string role)
    {
        if (await Sql.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role) == 1)
        {
            await ExecuteFormattedAsync(admin, "SELECT format('DROP OWNED BY %I', $1::text)", role);
            await ExecuteFormattedAsync(admin, "SELECT format('DROP ROLE %I', $1::text)", role);
        }
    }

    private static string WithPassword(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = CliPassword }.ConnectionString;

    /// <summary>Captures every log line at every level, with its structured values and exception.</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerFactory factory, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? string.Join(" ", pairs.Select(p => $"{p.Key}={Flatten(p.Value)}"))
                    : string.Empty;
                factory.Lines.Enqueue($"{category} {logLevel} {formatter(state, exception)} {values} {exception}");
            }

            private static string Flatten(object? value) => value switch
            {
                null => "null",
                string s => s,
                IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Flatten)) + "]",
                _ => value.ToString() ?? string.Empty,
            };
        }
    }
}

/// <summary>The example of docs/reliability.md (keep the two the same): PBKDF2-HMAC-SHA256, 600,000 iterations, per-user salt.</summary>
internal static class PasswordHashing
{
    private const int Iterations = 600_000;

    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts is not ["pbkdf2-sha256", var iterations, var salt, var hash])
        {
            return false;
        }

        var expected = Convert.FromBase64String(hash);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(salt), int.Parse(iterations, System.Globalization.CultureInfo.InvariantCulture), HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
