namespace StatusData.Migrations.Tests;

/// <summary>
/// Every bad command line is answered in the operator's words, with exit 2, before anything connects: the same
/// first line whether the server is down or up. One process per command and bad input.
/// </summary>
public sealed class UsageErrorTests
{
    private const string NotAVersion = "must be a migration version such as 202611220900 (or 0 for none), not 'abc'.";

    public static TheoryData<string[], string> BadInputs => new()
    {
        { [], "error: no command given. The commands are: up, down, rollback, status, script, plan, baseline, grant-app-role." },
        { ["upp"], "error: unknown command 'upp'. Did you mean 'up'?" },
        { ["statsu"], "error: unknown command 'statsu'. Did you mean 'status'?" },
        { ["frobnicate"], "error: unknown command 'frobnicate'. The commands are: up, down, rollback, status, script, plan, baseline, grant-app-role." },
        { ["up", "--to", "abc"], "error: --to " + NotAVersion },
        { ["up", "--to", "999"], "error: Unknown version 999. Known versions: 202602282200, 202611220900." },
        { ["up", "--lock-timeout", "abc"], "error: --lock-timeout must be a whole number of seconds from 1 to 2147483, not 'abc'." },
        { ["up", "-c"], "error: Required argument missing for option: '-c'." }, // e.g. -c "$CONN" with CONN unset: once crashed redaction
        { ["up", "--alow-drift"], "error: unknown option '--alow-drift' for 'up'. Did you mean '--allow-drift'?" },
        { ["down"], "error: down needs --to: the version to end at, e.g. 'down --to 202602282200' (0 reverts everything)." },
        { ["down", "--to", "abc"], "error: --to " + NotAVersion },
        { ["down", "--to", "999"], "error: Unknown version 999. Known versions: 0 (nothing applied), 202602282200, 202611220900." },
        { ["rollback", "--steps", "abc"], "error: --steps must be a whole number of migrations, at least 1, not 'abc'." },
        { ["rollback", "--steps", "0"], "error: --steps must be a whole number of migrations, at least 1, not '0'." },
        { ["status", "--jsn"], "error: unknown option '--jsn' for 'status'. Did you mean '--json'?" },
        { ["status", "extra"], "error: unexpected argument 'extra' for 'status'." },
        { ["script", "sideways"], "error: script takes 'up' or 'down', not 'sideways'." },
        { ["script", "up", "--from", "abc"], "error: --from " + NotAVersion },
        { ["script", "down", "--to", "999"], "error: Unknown version 999. Known versions: 0 (nothing applied), 202602282200, 202611220900." },
        { ["baseline", "abc"], "error: baseline's version " + NotAVersion },
        { ["baseline", "999"], "error: Unknown version 999. Known versions: 202602282200, 202611220900." },
        { ["grant-app-role"], "error: grant-app-role needs the role's name, e.g. 'statusdata-migrate grant-app-role app_user'." },
        { ["grant-app-role", "app", "--creat"], "error: unknown option '--creat' for 'grant-app-role'. Did you mean '--create'?" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task WithTheServerDownABadCommandLineExitsTwoWithItsFirstLine(string[] args, string firstLine)
    {
        var result = await CliRunner.RunAsync(args, CliRunner.WithConnection($"Host=127.0.0.1;Port={CliTests.ClosedPort()};Username=u;Database=x;Timeout=2"), cancellationToken: Ct);
        AssertUsageError(result, firstLine);
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task WithTheServerUpABadCommandLineExitsTwoWithTheSameFirstLine(string[] args, string firstLine)
    {
        await using var db = await TestDb.CreateEmptyAsync("usage", Ct);
        var result = await CliRunner.RunAsync(args, CliRunner.WithConnection(db.ConnectionString), cancellationToken: Ct);
        AssertUsageError(result, firstLine);
        Assert.Empty(await db.RelationsAsync(Ct)); // nothing was created
    }

    /// <summary>Exit 2; the first line on stderr after the <c>target:</c> line (which names where it would connect) is the error.</summary>
    private static void AssertUsageError(ProcessResult result, string firstLine)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(firstLine, result.Stderr.Split('\n').First(line => !line.StartsWith("target: ", StringComparison.Ordinal)));
        Assert.Equal(1, result.Stderr.Split('\n').Count(line => line.StartsWith("error: ", StringComparison.Ordinal))); // said once
        Assert.Empty(result.Stdout);
    }
}
