using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using StatusData.Demo;

namespace StatusData.Tests.Security;

/// <summary>
/// The password hash never leaks into ToString, exception messages or Npgsql's logs. (SQL is never built
/// from values: <see cref="SqlIsConstantTests"/>. The least-privilege role that
/// <c>statusdata-migrate grant-app-role</c> sets up is tested with the CLI, in StatusData.Migrations.Tests.)
/// </summary>
public sealed class SecurityTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task ThePasswordHashNeverAppearsInToString()
    {
        var db = new StatusDatabase(database.DataSource);
        var hash = "pbkdf2-sha256$600000$" + Guid.NewGuid().ToString("N");
        var user = await db.Users.CreateAsync(Unique.Name(), "Printed", Unique.Email(Unique.Name()), hash, null, Ct);
        var posted = await db.StatusUpdates.PostAsync(user.Id, "hello", "general", 1, null, Ct);
        var loaded = await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct);

        Assert.Equal(hash, user.PasswordHash);
        foreach (var printed in new[] { user.ToString(), posted.ToString(), loaded!.ToString(), (await db.Users.GetByIdAsync(user.Id, Ct))!.ToString() })
        {
            Assert.DoesNotContain(hash, printed, StringComparison.Ordinal);
            Assert.DoesNotContain("pbkdf2", printed, StringComparison.Ordinal);
        }

        Assert.Contains("PasswordHash = ***", user.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToStringNeverPrintsThePasswordHash()
    {
        var name = Unique.Name();
        var user = await new StatusDatabase(database.DataSource).Users.CreateAsync(name, name, Unique.Email(name), "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$SECRETHASHVALUE", null, Ct);

        var text = user.ToString();

        Assert.DoesNotContain("SECRETHASHVALUE", text, StringComparison.Ordinal);
        Assert.Contains("PasswordHash = ***", text, StringComparison.Ordinal);
        Assert.Contains(user.Username, text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETHASHVALUE", new UserWithStatusUpdates(user, []).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePasswordHashNeverAppearsInExceptionsEvenWithErrorDetailOn()
    {
        Assert.True(new NpgsqlConnectionStringBuilder(database.ConnectionString).IncludeErrorDetail, "the worst case: the server's error details are included");
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var first = await db.Users.CreateAsync(name, "First", Unique.Email(name), "hash-of-the-first-" + Guid.NewGuid(), null, Ct);
        var secondHash = "hash-of-the-second-" + Guid.NewGuid();

        var sameEmail = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(Unique.Name(), "Second", first.Email, secondHash, null, Ct));
        var sameUsername = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Second", Unique.Email(Unique.Name()), secondHash, null, Ct));
        var other = await db.Users.CreateAsync(Unique.Name(), "Other", Unique.Email(Unique.Name()), secondHash, null, Ct);
        var takenEmail = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.UpdateProfileAsync(other.Id, "Other", first.Email, null, Ct));

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
            using var log = new FakeLoggerProvider();
            using var loggerFactory = new LoggerFactory([log], new LoggerFilterOptions { MinLevel = LogLevel.Trace });
            var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
            builder.UseLoggerFactory(loggerFactory);
            builder.EnableParameterLogging(enableParameterLogging);
            await using var dataSource = builder.Build();
            var db = new StatusDatabase(dataSource);
            var name = Unique.Name();
            var user = await db.Users.CreateAsync(name, "Logged", Unique.Email(name), enableParameterLogging ? "other-" + Guid.NewGuid() : hash, null, Ct);
            await db.Users.SetPasswordHashAsync(user.Id, newHash, Ct);
            await db.Users.GetByIdAsync(user.Id, Ct);
            await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Dup", Unique.Email(Unique.Name()), newHash, null, Ct));
            await db.Users.DeleteAsync(user.Id, Ct);
            // Every line whole: its message, structured values and exception.
            return [.. log.Collector.GetSnapshot().Select(r => $"{r.Category} {r.Level} {r.Message} {string.Join(" ", r.StructuredState ?? [])} {r.Exception}")];
        }
    }

    /// <summary>The hashing docs/reliability.md recommends: PBKDF2-HMAC-SHA256, 600,000 iterations; its output fits password_hash and verifies.</summary>
    [Fact]
    public async Task TheDocumentedPasswordHashFitsTheColumnAndVerifies()
    {
        var stored = PasswordHashing.Hash("correct horse battery staple");
        Assert.Equal(90, stored.Length); // docs/reliability.md says so; the column takes 255
        Assert.StartsWith("pbkdf2-sha256$600000$", stored, StringComparison.Ordinal);

        var db = new StatusDatabase(database.DataSource);
        var user = await db.Users.CreateAsync(Unique.Name(), "Hashed", Unique.Email(Unique.Name()), stored, null, Ct);
        var loaded = (await db.Users.GetByIdAsync(user.Id, Ct))!;
        Assert.True(PasswordHashing.Verify("correct horse battery staple", loaded.PasswordHash));
        Assert.False(PasswordHashing.Verify("Correct horse battery staple", loaded.PasswordHash));
    }
}
