using Npgsql;

namespace StatusData.Migrations.Tests.Support;

/// <summary>PostgreSQL's own client, for scripts the CLI prints "to run with psql": Debian's psql, as an operator would run it.</summary>
internal static class Psql
{
    private static string Program { get; } =
        new[] { "/usr/bin/psql" }
            .Concat(Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "psql")) : [])
            .FirstOrDefault(File.Exists) ?? "psql";

    /// <summary>Runs <paramref name="script"/> from a file with <c>psql -v ON_ERROR_STOP=1 -f</c>, as the script's header says; asserts exit 0.</summary>
    public static async Task RunScriptAsync(string connectionString, string script, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), $"statusdata-script-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(file, script, cancellationToken);
        try
        {
            var result = await RunFileAsync(connectionString, file, cancellationToken);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static Task<ProcessResult> RunFileAsync(string connectionString, string file, CancellationToken cancellationToken)
    {
        var c = new NpgsqlConnectionStringBuilder(connectionString);
        var environment = new Dictionary<string, string?>
        {
            ["PGHOST"] = c.Host,
            ["PGPORT"] = c.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGUSER"] = c.Username,
            ["PGPASSWORD"] = c.Password,
            ["PGDATABASE"] = c.Database,
        };
        return ChildProcess.RunAsync(Program, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", file], TimeSpan.FromSeconds(60), environment, cancellationToken: cancellationToken);
    }
}
