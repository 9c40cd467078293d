using Npgsql;

namespace StatusData.Migrations.Tests.Support;

/// <summary>PostgreSQL's own client, for scripts the CLI prints "to run with psql": Debian's psql, as an operator would run it.</summary>
internal static class Psql
{
    private static string Program { get; } =
        new[] { "/usr/bin/psql" }
            .Concat(Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "psql")) : [])
            .FirstOrDefault(File.Exists) ?? "psql";

    /// <summary><c>psql -v ON_ERROR_STOP=1 -f file</c> against <paramref name="connectionString"/>'s database.</summary>
    public static Task<ProcessResult> RunFileAsync(string connectionString, string file, CancellationToken cancellationToken)
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
