namespace StatusData.Migrations.Cli;

/// <summary>Last line of defence: whatever the CLI prints passes through here, and the password never does.</summary>
internal static class Redaction
{
    public static string Redact(string text, string? password) =>
        string.IsNullOrEmpty(password) ? text : text.Replace(password, "********", StringComparison.Ordinal);
}
