using System.Text.RegularExpressions;

namespace StatusData.Migrations.Cli;

/// <summary>Last line of defence: whatever the CLI prints passes through here, and the password never does.</summary>
internal static partial class Redaction
{
    private const string Mask = "********";

    /// <summary>
    /// Replaces <paramref name="password"/>, and the value of any <c>Password=</c>/<c>Pwd=</c>/<c>Psw=</c>
    /// key of a connection string quoted in <paramref name="text"/> (a parse error quotes the argument it
    /// could not place, which may be a whole connection string given without --connection).
    /// </summary>
    public static string Redact(string text, string? password)
    {
        var redacted = string.IsNullOrEmpty(password) ? text : text.Replace(password, Mask, StringComparison.Ordinal);
        return PasswordKey().Replace(redacted, m => m.Groups["key"].Value + Mask);
    }

    // A quoted value ends at its closing quote; an unquoted one at ';' or the end of the line, so that a
    // password with a quote in it is masked whole even where the message wraps the argument in quotes.
    [GeneratedRegex("""(?<key>\b(?:password|pwd|psw)\s*=\s*)(?:"(?:[^"]|"")*"|'(?:[^']|'')*'|[^;\r\n]*)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PasswordKey();
}
