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
    public static Command Create()
    {
        var role = new Argument<string?>("role") { Description = "The application's role (exact, case-sensitive).", Arity = ArgumentArity.ZeroOrOne };
        var create = new Option<bool>("--create") { Description = "Create the role as a NOLOGIN group role if it does not exist; give LOGIN roles membership in it." };
        var command = new Command("grant-app-role", "Give a role exactly SELECT, INSERT, UPDATE and DELETE on users and status_updates, and nothing else.") { role, create };
        command.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValue(role)))
            {
                result.AddError("grant-app-role needs the role's name, e.g. 'statusdata-migrate grant-app-role app_user'.");
            }
        });
        command.SetAction((result, ct) => CommandRunner.RunAsync(result, async target =>
        {
            await using var dataSource = NpgsqlDataSource.Create(target.ConnectionString);
            var granted = await ApplicationRole.GrantAsync(dataSource, result.GetValue(role)!, result.GetValue(create), CommandRunner.LockTimeout(result), ct);
            foreach (var statement in granted.Statements)
            {
                await Console.Out.WriteLineAsync(statement + ";");
            }

            foreach (var warning in granted.Warnings)
            {
                await Console.Error.WriteLineAsync("warn: " + target.Redact(warning));
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }
}
