namespace StatusData.Migrations.Tests;

/// <summary>
/// The password never appears in what the CLI prints, and text that merely holds the same characters is printed as
/// it is: short, numeric and user-name-equal passwords, a password inside a version number, URLs, server errors.
/// </summary>
public sealed class RedactionTests
{
    [Theory]
    [InlineData("2026")] // inside every version number: 202602282200, 202611220900
    [InlineData("x")] // one character, in "indexes" and everywhere else
    [InlineData("user-name")] // equal to the user name, which the CLI prints
    public async Task APasswordThatOtherTextHappensToContainLeavesThatTextAsItIs(string password)
    {
        await using var db = await TestDb.CreateEmptyAsync("redact", Ct);
        var role = password == "user-name" ? $"sd_{Guid.NewGuid():N}"[..20] : $"sd_redact_{Guid.NewGuid():N}"[..24];
        password = password == "user-name" ? role : password;
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{password}'; ALTER DATABASE {db.DatabaseName} OWNER TO {role}; ALTER SCHEMA public OWNER TO {role}", Ct);
        try
        {
            var connection = CliRunner.WithConnection(new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = password }.ConnectionString);

            var unknown = await CliRunner.RunAsync(["up", "--to", "1"], connection, cancellationToken: Ct);
            var up = await CliRunner.RunAsync(["up"], connection, cancellationToken: Ct);
            var status = await CliRunner.RunAsync(["status"], connection, cancellationToken: Ct);

            Assert.Contains("error: Unknown version 1. Known versions: 202602282200, 202611220900.", unknown.Stderr, StringComparison.Ordinal);
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("info: Applying migration 202602282200: initial users and status_updates", up.Stderr, StringComparison.Ordinal);
            Assert.Matches(@"applied\s+202611220900  keyset pagination indexes", up.Stdout);
            Assert.Contains($"target: {new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString).Host}:", status.Stderr, StringComparison.Ordinal);
            Assert.Contains($" as {role}", status.Stderr, StringComparison.Ordinal);
            foreach (var result in new[] { unknown, up, status })
            {
                Assert.DoesNotContain("****", result.Stdout + result.Stderr, StringComparison.Ordinal); // nothing was masked: nothing held the password
                Assert.DoesNotContain("Password=", result.Stdout + result.Stderr, StringComparison.OrdinalIgnoreCase);
            }
        }
        finally
        {
            await db.ExecuteAsync($"ALTER SCHEMA public OWNER TO CURRENT_USER; ALTER DATABASE {db.DatabaseName} OWNER TO CURRENT_USER; REASSIGN OWNED BY {role} TO CURRENT_USER; DROP ROLE {role}", Ct);
        }
    }

    [Fact]
    public async Task APasswordInAUrlOrAStrayArgumentIsMasked()
    {
        const string password = "S3cret-Pw-42";
        var url = await CliRunner.RunAsync(["status", "--connection", $"postgresql://ada:{password}@127.0.0.1:5432/app"], cancellationToken: Ct);
        var stray = await CliRunner.RunAsync(["status", password], CliRunner.WithConnection($"Host=127.0.0.1;Username=ada;Password={password}"), cancellationToken: Ct);
        var misplaced = await CliRunner.RunAsync(["up", "--to", $"postgresql://ada:{password}@db/app"], cancellationToken: Ct);
        var slashes = await CliRunner.RunAsync(["up", "--to", "postgresql://ada:ab/c@d@db/app"], cancellationToken: Ct); // a generated password with / and @
        var variable = await CliRunner.RunAsync(["up", $"PGPASSWORD={password}"], cancellationToken: Ct);

        Assert.Equal("error: the connection string is a URL; statusdata-migrate takes Npgsql's key=value form, e.g. \"Host=db.example.com;Port=5432;Database=app;Username=migrator\", with the password as its Password key.", url.Stderr.Split('\n')[0]);
        Assert.Equal("error: unexpected argument '********' for 'status'.", stray.Stderr.Split('\n')[0]);
        Assert.Equal("error: --to must be a migration version such as 202611220900 (or 0 for none), not 'postgresql://ada:********@db/app'.", misplaced.Stderr.Split('\n')[0]);
        Assert.Equal("error: --to must be a migration version such as 202611220900 (or 0 for none), not 'postgresql://ada:********@db/app'.", slashes.Stderr.Split('\n')[0]);
        Assert.DoesNotContain("ab/c@d", slashes.Stderr, StringComparison.Ordinal);
        Assert.Equal("error: unexpected argument 'PGPASSWORD=********", variable.Stderr.Split('\n')[0]);
        foreach (var result in new[] { url, stray, misplaced, slashes, variable })
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            CliRunner.AssertDoesNotPrint(password, result);
        }
    }
}
