using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StatusData.Migrations.Tests;

/// <summary>statusdata-migrate as a real process: exit codes, output, and the password.</summary>
public sealed partial class CliTests
{
    private const string Password = "Sup3rS3cretPw";

    /// <summary>Every command of the CLI with the arguments it needs to get as far as connecting; kept complete by <see cref="EveryCommandIsInTheBadConnectionStringTests"/>.</summary>
    private static readonly string[][] Commands =
    [
        ["up"],
        ["down", "--to", "0"],
        ["rollback"],
        ["status"],
        ["script", "up"],
        ["plan"],
        ["baseline", "202602282200"],
        ["grant-app-role", "statusdata_app"],
    ];

    /// <summary>Each command with a connection string without Host and with one that does not parse, and what the error must name.</summary>
    public static TheoryData<string[], string, string> BadConnectionStrings
    {
        get
        {
            var data = new TheoryData<string[], string, string>();
            foreach (var command in Commands)
            {
                data.Add(command, $"Database=x;Username=u;Password={Password}", "names no Host");
                data.Add(command, $"Host=127.0.0.1;Password={Password};this is not a key value pair", "Format of the initialization string");
            }

            return data;
        }
    }

    [Theory]
    [InlineData("status")]
    [InlineData("up")]
    [InlineData("down", "--to", "0")]
    [InlineData("baseline", "202602282200")]
    [InlineData("script", "up")]
    public async Task WithoutAConnectionStringACommandThatNeedsTheDatabaseExitsWithUsageError(params string[] args)
    {
        var result = await CliRunner.RunAsync(args, cancellationToken: Ct);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("no connection string", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("up", "--frobnicate")]
    [InlineData("script", "sideways", "--from", "0")]
    [InlineData("up", "--to", "not-a-number")]
    [InlineData]
    public async Task AnUnknownCommandOrOptionExitsWithUsageError(params string[] args)
    {
        var result = await CliRunner.RunAsync(args, CliRunner.WithConnection("Host=127.0.0.1;Database=never-used"), cancellationToken: Ct);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("error:", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelpNamesTheCommandStatusdataMigrate()
    {
        var result = await CliRunner.RunAsync(["--help"], cancellationToken: Ct);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("statusdata-migrate [command] [options]", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("baseline <version>", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpToAnUnknownVersionAndDownWithoutATargetExitWithUsageErrorAndChangeNothing()
    {
        await using var db = await TestDb.CreateEmptyAsync("cliusage", Ct);

        var upTo999 = await CliRunner.RunAsync(["up", "--to", "999"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var downWithoutTo = await CliRunner.RunAsync(["down"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(upTo999.ExitCode == 2, upTo999.ToString());
        Assert.Contains("Unknown version 999", upTo999.Stderr, StringComparison.Ordinal);
        Assert.True(downWithoutTo.ExitCode == 2, downWithoutTo.ToString());
        Assert.Contains("--to", downWithoutTo.Stderr, StringComparison.Ordinal);
        Assert.Empty(await db.RelationsAsync(Ct));
    }

    [Fact]
    public async Task UpDownAndRollbackPrintEachStepOnStdout()
    {
        await using var db = await TestDb.CreateEmptyAsync("clisteps", Ct);
        var connection = CliRunner.WithConnection(db.ConnectionString);

        var up = await CliRunner.RunAsync(["up", "--to", "202602282200"], connection, cancellationToken: Ct);
        var upRest = await CliRunner.RunAsync(["--connection", db.ConnectionString, "up"], cancellationToken: Ct);
        var rollback = await CliRunner.RunAsync(["rollback"], connection, cancellationToken: Ct);
        var down = await CliRunner.RunAsync(["down", "--to", "0"], connection, cancellationToken: Ct);

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Matches(@"^applied\s+202602282200  initial users and status_updates  \(\d+ ms\)\ndatabase is at version 202602282200\n$", up.Stdout);
        Assert.True(upRest.ExitCode == 0, upRest.ToString());
        Assert.Matches(@"^applied\s+202611220900  keyset pagination indexes  \(\d+ ms\)\ndatabase is at version 202611220900\n$", upRest.Stdout);
        Assert.True(rollback.ExitCode == 0, rollback.ToString());
        Assert.Matches(@"^reverted 202611220900 .*\ndatabase is at version 202602282200\n$", rollback.Stdout);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Matches(@"^reverted 202602282200 .*\ndatabase is at version 0\n$", down.Stdout);
        Assert.Equal(ExpectedSchema.RelationsAtZero, await db.RelationsAsync(Ct));
        Assert.Empty(await db.VersionRowsAsync(Ct));
    }

    [Fact]
    public async Task AMigrationWhoseSqlFailsExitsOneIsNotRecordedAndARerunFinishesIt()
    {
        await using var db = await TestDb.CreateEmptyAsync("clifails", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        await db.ExecuteAsync("CREATE INDEX ix_users_created_at_id ON users (id)", Ct); // 202611220900 creates this name too

        var result = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("Migration 202611220900 (keyset pagination indexes) failed going up: 42P07", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("It runs outside a transaction, so statements before the failing one stay done and version_info does not record it", result.Stderr, StringComparison.Ordinal);
        Assert.Equal([(Known.Initial, Known.InitialDescription)], await db.VersionsAsync(Ct));

        // The three concurrent builds before the failure stay, valid; once the conflict is gone, a rerun keeps them and finishes.
        Assert.Equal(ExpectedSchema.StatusUpdatesIndexesAtLatest, await Catalog.IndexesAsync(db.DataSource, "public.status_updates", Ct));
        await db.ExecuteAsync("DROP INDEX ix_users_created_at_id", Ct);
        var rerun = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(rerun.Stderr, "was already built"));
        Assert.Equal(Known.Both, await db.VersionsAsync(Ct));
    }

    [Fact]
    public async Task StatusPrintsEveryMigrationAsATableOrAsJson()
    {
        await using var db = await TestDb.CreateEmptyAsync("clistatus", Ct);
        await db.Runner().UpAsync(Known.Initial, Ct);
        var appliedOn = (await db.VersionRowsAsync(Ct))[0].AppliedOn;

        var table = await CliRunner.RunAsync(["status"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        var json = await CliRunner.RunAsync(["status", "--json"], CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);

        Assert.True(table.ExitCode == 0, table.ToString());
        var lines = table.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("VERSION", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^202602282200\s+applied\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+a1b2c3d4e5f6\s+initial users and status_updates$", lines[1]);
        Assert.Matches(@"^202611220900\s+pending\s+-\s+keyset pagination indexes$", lines[2]);
        Assert.Equal("alembic_version: a1b2c3d4e5f6; agrees with version_info", lines[3]);

        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        var entries = document.RootElement.GetProperty("migrations").EnumerateArray()
            .Select(e => (
                e.GetProperty("version").GetInt64(),
                e.GetProperty("state").GetString(),
                e.GetProperty("description").GetString(),
                e.GetProperty("appliedOn").ValueKind == JsonValueKind.Null ? (DateTime?)null : e.GetProperty("appliedOn").GetDateTime()))
            .ToList();
        Assert.Equal(
            [
                (Known.Initial, "applied", Known.InitialDescription, appliedOn),
                (Known.KeysetIndexes, "pending", Known.KeysetIndexesDescription, (DateTime?)null),
            ],
            entries);
        var alembic = document.RootElement.GetProperty("alembic");
        Assert.Equal("a1b2c3d4e5f6", alembic.GetProperty("revisions")[0].GetString());
        Assert.Equal("a1b2c3d4e5f6", alembic.GetProperty("expected").GetString());
        Assert.True(alembic.GetProperty("agrees").GetBoolean());
    }

    /// <summary>
    /// A failure the tool has no case for, here stdout on a full disk (/dev/full), offline and after reading
    /// the database: one error line naming it and exit 1, not an unhandled exception with a stack trace.
    /// </summary>
    [Fact]
    public async Task AnUnexpectedFailureIsOneErrorLineAndExitOne()
    {
        await using var db = await TestDb.CreateMigratedAsync("clidevfull", Ct);
        string[][] commands = [["script", "up", "--from", "0"], ["status", "--connection", db.ConnectionString]];
        foreach (var command in commands)
        {
            var result = await ChildProcess.RunAsync(
                "bash",
                ["-c", "exec \"$@\" >/dev/full", "bash", CliRunner.DotnetHost, CliRunner.ToolPath, .. command],
                TimeSpan.FromSeconds(60),
                [new(CliRunner.ConnectionVariable, null)],
                cancellationToken: Ct);

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains("error: unexpected System.IO.IOException: No space left on device", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ThePasswordIsNotPrintedWhenTheConnectionFails()
    {
        var connection = $"Host=127.0.0.1;Port={ClosedPort()};Username=u;Password={Password};Database=x;Timeout=2";

        var viaOption = await CliRunner.RunAsync(["status", "--connection", connection], cancellationToken: Ct);
        var viaEnvironment = await CliRunner.RunAsync(["up"], CliRunner.WithConnection(connection), cancellationToken: Ct);

        foreach (var result in new[] { viaOption, viaEnvironment })
        {
            Assert.True(result.ExitCode == 5, result.ToString());
            Assert.Contains("Cannot connect to 127.0.0.1:", result.Stderr, StringComparison.Ordinal);
            CliRunner.AssertDoesNotPrint(Password, result);
        }
    }

    [Fact]
    public async Task ThePasswordIsNotPrintedWhenTheCommandSucceeds()
    {
        await using var db = await TestDb.CreateEmptyAsync("clipassword", Ct);

        // A role that logs in with the password (a server that trusts local connections ignores it; one in a
        // container checks it), owning the database so that it may migrate it.
        var role = "sd_cli_password_" + Guid.NewGuid().ToString("N")[..8];
        var database = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString).Database;
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{Password}'; ALTER DATABASE \"{database}\" OWNER TO {role}", Ct);
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = Password }.ConnectionString;

        ProcessResult up, status;
        try
        {
            up = await CliRunner.RunAsync(["up", "--connection", connection], cancellationToken: Ct);
            status = await CliRunner.RunAsync(["status", "--connection", connection], cancellationToken: Ct);
        }
        finally
        {
            await db.ExecuteAsync($"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role}", Ct);
        }

        foreach (var result in new[] { up, status })
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("target: 127.0.0.1:", result.Stderr, StringComparison.Ordinal);
            CliRunner.AssertDoesNotPrint(Password, result);
        }
    }

    /// <summary>
    /// A connection string passed without --connection (say `up "$STATUSDATA_CONNECTION"`) or given to the
    /// wrong option is a parse error, and parse errors quote the offending argument.
    /// </summary>
    [Theory]
    [InlineData("status", "Host=127.0.0.1;Username=u;Password=Sup3rS3cretPw;Database=x")]
    [InlineData("up", "--to", "Host=127.0.0.1;Username=u;Password=Sup3rS3cretPw")]
    [InlineData("up", "--to", "Host=127.0.0.1;PWD = 'Sup3rS3cretPw';Database=x")]
    public async Task AMisplacedConnectionStringIsAUsageErrorThatDoesNotPrintThePassword(params string[] args)
    {
        var result = await CliRunner.RunAsync(args, cancellationToken: Ct);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("error:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Host=127.0.0.1", result.Stderr, StringComparison.Ordinal); // the rest of the argument still helps
        CliRunner.AssertDoesNotPrint(Password, result);
    }

    [Fact]
    public async Task AConnectionStringWithoutAHostIsAUsageError()
    {
        var result = await CliRunner.RunAsync(
            ["status", "--connection", $"Database=x;Username=u;Password={Password}"], cancellationToken: Ct);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("error: invalid connection string", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        CliRunner.AssertDoesNotPrint(Password, result);
    }

    /// <summary>One error path for every command: a bad connection string is a usage error that says what is wrong, not a crash.</summary>
    [Theory]
    [MemberData(nameof(BadConnectionStrings))]
    public async Task ABadConnectionStringIsAUsageErrorNamingTheProblemWithoutAStackTrace(string[] command, string connection, string problem)
    {
        var viaOption = await CliRunner.RunAsync([.. command, "--connection", connection], cancellationToken: Ct);
        var viaEnvironment = await CliRunner.RunAsync(command, CliRunner.WithConnection(connection), cancellationToken: Ct);

        foreach (var result in new[] { viaOption, viaEnvironment })
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("error: invalid connection string: ", result.Stderr, StringComparison.Ordinal);
            Assert.Contains(problem, result.Stderr, StringComparison.Ordinal);
            Assert.Empty(result.Stdout);
            Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotMatch(ExceptionTypeName(), result.Stderr);
            Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
            CliRunner.AssertDoesNotPrint(Password, result);
        }
    }

    [Fact]
    public async Task EveryCommandIsInTheBadConnectionStringTests()
    {
        var help = await CliRunner.RunAsync(["--help"], cancellationToken: Ct);

        Assert.True(help.ExitCode == 0, help.ToString());
        var listed = help.Stdout[help.Stdout.IndexOf("Commands:", StringComparison.Ordinal)..]
            .Split('\n').Skip(1).Where(line => line.StartsWith("  ", StringComparison.Ordinal)).Select(line => line.Trim().Split(' ')[0]);
        Assert.Equal(listed.Order(StringComparer.Ordinal), Commands.Select(c => c[0]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TheCliPrintsTheSameAppliedOnTimesInEveryProcessTimeZone()
    {
        await using var db = await TestDb.CreateMigratedAsync("clitz", Ct);
        var outputs = new List<string>();
        foreach (var zone in new[] { "UTC", "America/New_York", "Pacific/Chatham" })
        {
            var json = await CliRunner.RunAsync(["status", "--json", "--connection", db.ConnectionString], new Dictionary<string, string> { ["TZ"] = zone }, TimeSpan.FromMinutes(2), Ct);
            Assert.True(json.ExitCode == 0, json.ToString());
            var table = await CliRunner.RunAsync(["status", "--connection", db.ConnectionString], new Dictionary<string, string> { ["TZ"] = zone }, TimeSpan.FromMinutes(2), Ct);
            Assert.True(table.ExitCode == 0, table.ToString());
            outputs.Add(json.Stdout + table.Stdout);
        }

        var appliedOn = await db.ScalarAsync<DateTime>("SELECT min(applied_on) FROM version_info", Ct);
        Assert.Contains(appliedOn.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), outputs[0], StringComparison.Ordinal);
        Assert.All(outputs, o => Assert.Equal(outputs[0], o));
    }

    [Fact]
    public async Task RollbackOfZeroStepsIsAUsageErrorReportedBeforeConnecting()
    {
        var connection = $"Host=127.0.0.1;Port={ClosedPort()};Username=u;Database=x;Timeout=2";

        var result = await CliRunner.RunAsync(["rollback", "--steps", "0"], CliRunner.WithConnection(connection), cancellationToken: Ct);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--steps", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed to connect", result.Stderr, StringComparison.Ordinal);
    }

    // A .NET exception's type name, e.g. System.ArgumentException or Npgsql.NpgsqlException: a crash leaked into the output.
    [GeneratedRegex(@"\b\w+(\.\w+)*\.\w*Exception\b")]
    private static partial Regex ExceptionTypeName();

    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
