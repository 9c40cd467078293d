using System.Text.RegularExpressions;

namespace StatusData.Migrations.Cli;

/// <summary>
/// Last line of defence: whatever the CLI prints passes through here. It masks the password where text can hold
/// one, and leaves every other character as it is, so a short or numeric password never mangles a version number,
/// and a password equal to the user name does not show by masking the user name:
/// <list type="bullet">
/// <item>the value of a <c>Password=</c>/<c>Pwd=</c>/<c>Psw=</c> key (also <c>PGPASSWORD=</c> and the like) of any connection string in the text (a parse
/// error quotes the argument it could not place, which may be a whole connection string given without --connection);</item>
/// <item>the password of a URL (<c>postgresql://user:password@host</c>, up to the last <c>@</c>, so a password holding <c>/</c> or <c>@</c> is masked whole), which an operator may pass by mistake;</item>
/// <item>a quoted argument that is exactly the password (<c>'hunter2'</c>), as a usage error quotes a stray
/// argument, unless it is also the user name, which the CLI prints by design.</item>
/// </list>
/// </summary>
internal static partial class Redaction
{
    private const string Mask = "********";

    public static string Redact(string text, string? password, string? username = null)
    {
        var redacted = PasswordKey().Replace(text, m => m.Groups["key"].Value + Mask);
        redacted = UrlPassword().Replace(redacted, m => m.Groups["user"].Value + ":" + Mask + "@");
        if (!string.IsNullOrEmpty(password) && password != username)
        {
            redacted = redacted.Replace($"'{password}'", $"'{Mask}'", StringComparison.Ordinal).Replace($"\"{password}\"", $"\"{Mask}\"", StringComparison.Ordinal);
        }

        return redacted;
    }

    // A quoted value ends at its closing quote; an unquoted one at ';' or the end of the line, so that a
    // password with a quote in it is masked whole even where the message wraps the argument in quotes.
    [GeneratedRegex("""(?<key>(?:password|pwd|psw)\s*=\s*)(?:"(?:[^"]|"")*"|'(?:[^']|'')*'|[^;\r\n]*)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PasswordKey();

    [GeneratedRegex("""(?<user>\b[a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^\s'"]*@""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();
}
