using System.CommandLine;
using System.Globalization;
using Npgsql;

namespace StatusData.Migrations.Cli;

/// <summary>The database a command runs against.</summary>
/// <param name="ConnectionString">Validated; Application Name is statusdata-migrate unless the string names one.</param>
/// <param name="Password">Masked in everything the command prints (<see cref="Redaction"/>).</param>
/// <param name="Username">The user, which the command prints: never masked, even when it equals the password.</param>
/// <param name="Description">Where we connect, for people: never the password.</param>
internal sealed record Target(string ConnectionString, string? Password, string? Username, string Description)
{
    public string Redact(string text) => Redaction.Redact(text, Password, Username);
}

/// <summary>
/// The one error path of <c>statusdata-migrate</c>: every command runs inside <see cref="RunAsync"/> (or
/// <see cref="RunOfflineAsync"/>), so every command finds its connection string the same way and reports
/// a failure the same way: one <c>error:</c> line on stderr, passed through <see cref="Redaction"/>, and
/// the exit code <see cref="ExitCodes.For"/> gives its <see cref="MigrationFailure"/> (1 for a failure
/// that is none of ours, such as a full disk under stdout).
/// </summary>
internal static class CommandRunner
{
    public static readonly Option<string?> ConnectionOption = new("--connection", "-c")
    {
        Description = "Npgsql connection string. Default: the STATUSDATA_CONNECTION environment variable.",
        Recursive = true,
    };

    public static readonly Option<int> LockTimeoutOption = new("--lock-timeout")
    {
        Description = "Seconds to wait for the migration lock and for table locks (grant-app-role: for each lock) before giving up.",
        DefaultValueFactory = _ => 60,
        CustomParser = Arguments.LockTimeoutSeconds,
        Recursive = true,
    };

    public static readonly Option<int> LockAttemptTimeoutOption = new("--lock-attempt-timeout")
    {
        Description = "Milliseconds one attempt of a migration waits for a table lock before it rolls back, pauses and tries again (within --lock-timeout). The apps' queries on that table wait behind it at most this long.",
        DefaultValueFactory = _ => 1000,
        CustomParser = Arguments.LockAttemptMilliseconds,
        Recursive = true,
    };

    /// <summary>The --lock-timeout of every command that waits for locks (all but <c>script --from</c>).</summary>
    public static TimeSpan LockTimeout(ParseResult result)
    {
        var seconds = result.GetValue(LockTimeoutOption);
        if (seconds <= 0 || TimeSpan.FromSeconds(seconds) > StatusDataMigrator.MaxLockTimeout)
        {
            throw new MigrationException(
                MigrationFailure.InvalidRequest,
                string.Create(CultureInfo.InvariantCulture, $"--lock-timeout must be a positive number of seconds, at most {(long)StatusDataMigrator.MaxLockTimeout.TotalSeconds}."));
        }

        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>Runs a command against the database that --connection or STATUSDATA_CONNECTION names.</summary>
    public static Task<int> RunAsync(ParseResult result, Func<Target, Task<int>> action, CancellationToken cancellationToken) =>
        RunCoreAsync(result, target => action(target!), cancellationToken);

    /// <summary>Runs a command that needs no database (<c>script --from</c>).</summary>
    public static Task<int> RunOfflineAsync(Func<Task<int>> action, CancellationToken cancellationToken) =>
        RunCoreAsync(null, _ => action(), cancellationToken);

    /// <summary>Prints one error line, with the password (and any connection string's password) masked.</summary>
    public static Task ErrorAsync(string message, Target? target) =>
        Console.Error.WriteLineAsync("error: " + (target?.Redact(message) ?? Redaction.Redact(message, null)));

    /// <summary>A usage error: its password and user name, for redaction, come from the connection string the command line gives, if it parses.</summary>
    public static Task UsageErrorAsync(string message, ParseResult parsed)
    {
        string? password = null, username = null;
        try
        {
            // The option's raw token: GetValue throws when the option is what failed to parse (e.g. -c without a value).
            var option = parsed.GetResult(ConnectionOption)?.Tokens is [var token, ..] ? token.Value : null;
            var given = new NpgsqlConnectionStringBuilder(option ?? Environment.GetEnvironmentVariable("STATUSDATA_CONNECTION") ?? string.Empty);
            (password, username) = (given.Password, given.Username);
        }
        catch (ArgumentException)
        {
            // Not a connection string: nothing more to mask than Redaction finds on its own.
        }

        return Console.Error.WriteLineAsync("error: " + Redaction.Redact(message, password, username));
    }

    private static async Task<int> RunCoreAsync(ParseResult? connectionFrom, Func<Target?, Task<int>> action, CancellationToken cancellationToken)
    {
        Target? target = null;
        try
        {
            if (connectionFrom is not null)
            {
                target = await ResolveAsync(connectionFrom);
                await Console.Error.WriteLineAsync("target: " + target.Description);
            }

            return await action(target);
        }
        catch (MigrationException e)
        {
            await ErrorAsync(e.Message, target);
            return ExitCodes.For(e.Failure);
        }
        catch (ArgumentException e)
        {
            // The library throws it for arguments, which here come from the command line (e.g. an empty role name).
            await ErrorAsync(e.Message, target);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await ErrorAsync("cancelled; each migration (and grant-app-role) runs in one transaction, so the one in flight either finished or was rolled back: status shows what is applied.", null);
            return ExitCodes.Failure;
        }
        catch (NpgsqlException e)
        {
            await ErrorAsync($"database error on {target?.Description}: {e.Message}", target);
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            // A failure with no case above: the environment (stdout on a full disk) or a bug. Still one redacted
            // line and exit 1, not System.CommandLine's unredacted "Unhandled exception" with a stack trace.
            var state = target is null ? string.Empty : " 'status' shows what is applied.";
            await ErrorAsync($"unexpected {e.GetType().FullName}: {e.Message.TrimEnd('.')}.{state}", target);
            return ExitCodes.Failure;
        }
    }

    private static async Task<Target> ResolveAsync(ParseResult result)
    {
        var connectionString = result.GetValue(ConnectionOption) ?? Environment.GetEnvironmentVariable("STATUSDATA_CONNECTION");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, "no connection string. Pass --connection \"Host=...;Database=...;Username=...\" or set STATUSDATA_CONNECTION.");
        }

        if (connectionString.Contains("://", StringComparison.Ordinal))
        {
            throw new MigrationException(
                MigrationFailure.InvalidRequest,
                "the connection string is a URL; statusdata-migrate takes Npgsql's key=value form, e.g. \"Host=db.example.com;Port=5432;Database=app;Username=migrator\", with the password as its Password key.");
        }

        NpgsqlConnectionStringBuilder connection;
        try
        {
            connection = new NpgsqlConnectionStringBuilder(connectionString);
            connection.ApplicationName ??= "statusdata-migrate";
            if (string.IsNullOrWhiteSpace(connection.Host))
            {
                throw new ArgumentException("it names no Host (e.g. Host=db.example.com).");
            }

            // Building a data source validates what parsing does not.
            await using var probe = new NpgsqlDataSourceBuilder(connection.ConnectionString).Build();
        }
        catch (ArgumentException e)
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, "invalid connection string: " + e.Message, e);
        }

        // Several hosts (Host=a:5432,b:5433) carry their ports; Port is the default for those without one.
        var hosts = string.Join(',', (connection.Host ?? string.Empty).Split(',').Select(h => h.Contains(':', StringComparison.Ordinal) ? h : string.Create(CultureInfo.InvariantCulture, $"{h}:{connection.Port}")));
        var session = connection.TargetSessionAttributes is { Length: > 0 } attributes ? $" ({attributes})" : string.Empty;
        var description = string.Create(
            CultureInfo.InvariantCulture, $"{hosts}/{connection.Database ?? connection.Username}{session} as {connection.Username ?? Environment.UserName}");
        return new Target(connection.ConnectionString, connection.Password, connection.Username, description);
    }
}

/// <summary>The exit codes of <c>statusdata-migrate</c>; documented in docs/migrations.md.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Refused = 3;
    public const int LockTimeout = 4;

    public const int ConnectionFailed = 5;

    /// <summary>A <see cref="MigrationFailure"/>'s value is its exit code; a value that is none of them is a plain failure, never 0.</summary>
    public static int For(MigrationFailure failure) => Enum.IsDefined(failure) ? (int)failure : Failure;
}
