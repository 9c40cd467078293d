using System.Collections;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using StatusData.Tests.Support;
using StatusData.TestSupport;

namespace StatusData.Tests.Reliability;

/// <summary>
/// SQL is never built from values (a scanner over src/, proven on samples); the password hash never
/// leaks into ToString, exception messages or Npgsql's logs. The least-privilege role that
/// <c>statusdata-migrate grant-app-role</c> sets up is tested with the CLI, in StatusData.Migrations.Tests.
/// </summary>
public sealed class SecurityTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    public static TheoryData<string> UnsafeSamples =>
    [
        """var command = new NpgsqlCommand($"SELECT * FROM users WHERE id = {id}", connection);""",
        """await connection.QueryAsync<User>($"SELECT * FROM users WHERE username = '{username}'");""",
        """var sql = "SELECT * FROM users WHERE id = " + id; await connection.ExecuteAsync(sql);""",
        """command.CommandText = "DELETE FROM users WHERE name = '" + name + "'";""",
        """var sql = "SELECT 1"; sql += " WHERE id = " + id; using var c = new NpgsqlCommand(sql, connection);""",
        """string sql; sql = $"UPDATE users SET xp = {xp}"; await connection.ExecuteAsync(new CommandDefinition(sql));""",
        """"var sql = $$"""SELECT * FROM users WHERE id = {{id}}"""; using var c = _dataSource.CreateCommand(sql);"""",
        """using var c = new NpgsqlCommand(string.Format("SELECT * FROM users WHERE id = {0}", id), connection);""",
        """using var c = new NpgsqlCommand("SELECT * FROM users WHERE id = @id".Replace("@id", id), connection);""",
        """
        private static async Task RunAsync(NpgsqlConnection connection, string sql) { using var c = new NpgsqlCommand(sql, connection); await c.ExecuteNonQueryAsync(); }
        public Task DropAsync(string table) => RunAsync(connection, $"DROP TABLE {table}");
        """,
        """public override void Up() { Sql($"CREATE TABLE {name} (id int)"); }""",
        """private static string Build(string x) => $"SELECT * FROM users WHERE id = {x}"; void M() { using var c = new NpgsqlCommand(Build(x), connection); }""",
        """var importer = await connection.BeginBinaryImportAsync($"COPY {table} (id) FROM STDIN (FORMAT BINARY)");""",
        """private static string Where(string x) => "SELECT * FROM users WHERE id = " + x;""",
    ];

    public static TheoryData<string> SafeSamples =>
    [
        """const string sql = "SELECT * FROM users WHERE id = @id"; var rows = await connection.QueryAsync<User>(new CommandDefinition(sql, new { id }, transaction, cancellationToken: ct));""",
        """using var c = new NpgsqlCommand("SELECT 1 " + "FROM users", connection);""",
        """private const string Columns = "id, username"; void M() { using var c = new NpgsqlCommand("SELECT " + Columns + " FROM users WHERE id = $1", connection); }""",
        """throw new ArgumentException($"{paramName} must not be empty; SELECT nothing.", paramName);""",
        """command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"{ms}ms" });""",
        """// new NpgsqlCommand($"SELECT * FROM users WHERE id = {id}", connection);""",
        """/* var sql = $"DELETE FROM users WHERE id = {id}"; */ var text = "// not a comment: \" + x";""",
        """var c = '"'; var d = '\''; using var cmd = new NpgsqlCommand(@"SELECT ""quoted"" FROM users", connection);""",
        """foreach (var statement in statements) { await ExecuteAsync(connection, statement, ct); }""",
        """logger.LogInformation($"Selected {count} rows");""",
    ];

    [Fact]
    public void NoSqlInTheSourceIsBuiltFromValues()
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        var findings = new List<string>();
        var sinks = 0;
        foreach (var file in files)
        {
            var result = SqlInjectionScanner.Scan(Path.GetRelativePath(src, file), File.ReadAllText(file));
            findings.AddRange(result.Findings);
            sinks += result.SinkSites;
        }

        Assert.True(findings.Count == 0, string.Join('\n', findings));
        TestContext.Current.TestOutputHelper?.WriteLine($"{files.Count} files, {sinks} sink sites");

        // The scanner really looked: the library and the runner send SQL from dozens of places.
        Assert.True(sinks >= 30, $"only {sinks} places that send SQL were found; has the scanner stopped recognizing them?");
    }

    [Theory]
    [MemberData(nameof(UnsafeSamples))]
    public void TheScannerFindsSqlBuiltFromValues(string sample)
    {
        var result = SqlInjectionScanner.Scan("Sample.cs", Wrap(sample));
        Assert.True(result.Findings.Count > 0, "not found in: " + sample);
        TestContext.Current.TestOutputHelper?.WriteLine(SqlInjectionScanner.Describe(result));
    }

    [Theory]
    [MemberData(nameof(SafeSamples))]
    public void TheScannerAcceptsParameterizedAndConstantSql(string sample)
    {
        var result = SqlInjectionScanner.Scan("Sample.cs", Wrap(sample));
        Assert.True(result.Findings.Count == 0, SqlInjectionScanner.Describe(result));
    }

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

    private static string Wrap(string sample) => "namespace Sample;\n\ninternal sealed class Sample\n{\n    private void Method()\n    {\n" + sample + "\n    }\n}\n";

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "StatusData.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("StatusData.sln not found above " + AppContext.BaseDirectory);
    }

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
