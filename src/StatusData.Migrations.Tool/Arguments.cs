using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace StatusData.Migrations.Cli;

/// <summary>
/// The command line's values and usage errors in the operator's words: what was expected, with an example,
/// instead of .NET type names; an unknown command or option once, with the nearest one.
/// </summary>
internal static class Arguments
{
    private const string ExampleVersion = "202611220900";

    /// <summary>A migration version (<c>yyyyMMddHHmm</c>, or 0 for none).</summary>
    public static long? Version(ArgumentResult result, string name)
    {
        var token = Token(result);
        if (long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return version;
        }

        result.AddError($"{name} must be a migration version such as {ExampleVersion} (or 0 for none), not '{token}'.");
        return null;
    }

    /// <summary>How many migrations <c>rollback</c> reverts: at least 1.</summary>
    public static int Steps(ArgumentResult result)
    {
        var token = Token(result);
        if (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var steps) && steps >= 1)
        {
            return steps;
        }

        result.AddError($"--steps must be a whole number of migrations, at least 1, not '{token}'.");
        return 1;
    }

    /// <summary>Seconds of --lock-timeout, within what PostgreSQL's lock_timeout can hold.</summary>
    public static int LockTimeoutSeconds(ArgumentResult result)
    {
        var token = Token(result);
        var max = (long)StatusDataMigrator.MaxLockTimeout.TotalSeconds;
        if (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 1 && seconds <= max)
        {
            return seconds;
        }

        result.AddError($"--lock-timeout must be a whole number of seconds from 1 to {max}, not '{token}'.");
        return 60;
    }

    /// <summary>Milliseconds of --lock-attempt-timeout, within what PostgreSQL's lock_timeout can hold.</summary>
    public static int LockAttemptMilliseconds(ArgumentResult result)
    {
        var token = Token(result);
        if (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds) && milliseconds >= 1)
        {
            return milliseconds;
        }

        result.AddError($"--lock-attempt-timeout must be a whole number of milliseconds from 1 to {int.MaxValue}, not '{token}'.");
        return 1000;
    }

    /// <summary><c>script</c>'s direction.</summary>
    public static string Direction(ArgumentResult result)
    {
        var token = Token(result);
        if (token is "up" or "down")
        {
            return token;
        }

        result.AddError($"script takes 'up' or 'down', not '{token}'.");
        return "up";
    }

    /// <summary>What is wrong with a command line, one line per problem; an unknown word is reported once, with the nearest known one.</summary>
    public static IReadOnlyList<string> UsageErrors(ParseResult parsed, RootCommand root)
    {
        var command = parsed.CommandResult.Command;
        if (parsed.UnmatchedTokens is [var token, ..])
        {
            if (token.StartsWith('-'))
            {
                var options = command.Options.Concat(root.Options.Where(o => o.Recursive)).SelectMany(o => o.Aliases.Prepend(o.Name)).Append("--help");
                return [$"unknown option '{token}' for '{Path(command, root)}'.{Suggest(token, options)}"];
            }

            if (command != root)
            {
                return [$"unexpected argument '{token}' for '{Path(command, root)}'."];
            }

            var hint = Suggest(token, root.Subcommands.Select(c => c.Name));
            return [$"unknown command '{token}'.{(hint.Length > 0 ? hint : " The commands are: " + string.Join(", ", root.Subcommands.Select(c => c.Name)) + ".")}"];
        }

        if (command == root)
        {
            return ["no command given. The commands are: " + string.Join(", ", root.Subcommands.Select(c => c.Name)) + "."];
        }

        return parsed.Errors.Select(e => e.Message).Distinct().ToList();
    }

    private static string Token(ArgumentResult result) => result.Tokens.Count == 0 ? string.Empty : result.Tokens[0].Value;

    private static string Path(Command command, RootCommand root) => command == root ? "statusdata-migrate" : command.Name;

    /// <summary>" Did you mean 'x'?" for the nearest candidate within a few edits, else empty.</summary>
    private static string Suggest(string token, IEnumerable<string> candidates)
    {
        var best = candidates.Distinct().Select(c => (Name: c, Distance: Distance(token, c))).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, token.Length / 3) ? $" Did you mean '{best.Name}'?" : string.Empty;
    }

    /// <summary>Levenshtein distance; the command line has too few words for a library to be worth it.</summary>
    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
