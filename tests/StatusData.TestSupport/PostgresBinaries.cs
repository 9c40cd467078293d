namespace StatusData.TestSupport;

/// <summary>Where the PostgreSQL server programs (initdb, pg_ctl) are.</summary>
internal sealed record PostgresBinaries(string Directory)
{
    public string InitDb => Path.Combine(Directory, "initdb");

    public string PgCtl => Path.Combine(Directory, "pg_ctl");

    public string PgBaseBackup => Path.Combine(Directory, "pg_basebackup");

    /// <summary>STATUSDATA_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin, else initdb on PATH.</summary>
    public static PostgresBinaries? Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("STATUSDATA_PG_BIN") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        if (System.IO.Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin")));
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        return candidates
            .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
            .Select(d => new PostgresBinaries(d))
            .FirstOrDefault();
    }
}
