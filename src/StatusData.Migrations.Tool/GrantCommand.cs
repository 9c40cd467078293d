using System.CommandLine;
using Npgsql;

namespace StatusData.Migrations.Cli;

/// <summary>
/// <c>statusdata-migrate grant-app-role &lt;role&gt; [--create]</c>: least privilege for the application's
/// database role (see <see cref="ApplicationRole.GrantAsync"/> and docs/reliability.md). Run it as the
/// migrator after <c>up</c>. Prints the statements it ran to stdout; warnings and errors go to stderr,
/// and the password of the connection string never appears in either.
/// </summary>
internal static class GrantCommand
{
    public static Command Create(Option<string?> connectionOption)
    {
        var role = new Argument<string>("role") { Description = "The application's role (exact, case-sensitive)." };
        var create = new Option<bool>("--create") { Description = "Create the role as a NOLOGIN group role if it does not exist; give LOGIN roles membership in it." };
        var command = new Command("grant-app-role", "Give a role exactly SELECT, INSERT, UPDATE and DELETE on users and status_updates, and nothing else.") { role, create };
        command.SetAction((result, ct) => RunAsync(result.GetValue(connectionOption), result.GetValue(role)!, result.GetValue(create), ct));
        return command;
    }

    private static async Task<int> RunAsync(string? connectionOption, string role, bool create, CancellationToken cancellationToken)
    {
        var connectionString = connectionOption ?? Environment.GetEnvironmentVariable("STATUSDATA_CONNECTION");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            await Console.Error.WriteLineAsync("error: no connection string. Pass --connection \"Host=...;Database=...;Username=...\" or set STATUSDATA_CONNECTION.");
            return ExitCodes.Usage;
        }

        NpgsqlDataSourceBuilder builder;
        try
        {
            builder = new NpgsqlDataSourceBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync("error: invalid connection string: " + e.Message);
            return ExitCodes.Usage;
        }

        var password = builder.ConnectionStringBuilder.Password;
        builder.ConnectionStringBuilder.ApplicationName ??= "statusdata-migrate";
        var target = $"{builder.ConnectionStringBuilder.Host}:{builder.ConnectionStringBuilder.Port}/{builder.ConnectionStringBuilder.Database ?? builder.ConnectionStringBuilder.Username}";
        await using var dataSource = builder.Build();
        try
        {
            await Console.Error.WriteLineAsync("target: " + target);
            var result = await ApplicationRole.GrantAsync(dataSource, role, create, cancellationToken);
            foreach (var statement in result.Statements)
            {
                await Console.Out.WriteLineAsync(statement + ";");
            }

            foreach (var warning in result.Warnings)
            {
                await Console.Error.WriteLineAsync("warn: " + Redaction.Redact(warning, password));
            }

            return ExitCodes.Success;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (MigrationException e)
        {
            await Console.Error.WriteLineAsync("error: " + Redaction.Redact(e.Message, password));
            return e.Failure switch
            {
                MigrationFailure.InvalidRequest => ExitCodes.Usage,
                MigrationFailure.Refused => ExitCodes.Refused,
                _ => ExitCodes.Failure,
            };
        }
        catch (NpgsqlException e)
        {
            await Console.Error.WriteLineAsync($"error: database error on {target}: {Redaction.Redact(e.Message, password)}");
            return ExitCodes.Failure;
        }
    }
}
