using System.Text.Json;
using Npgsql;

namespace StatusData.Migrations.Tests.Support;

/// <summary>
/// The Python side for real: tests/PythonApp (the backend's models, alembic.ini/env.py and revision
/// a1b2c3d4e5f6) run with Debian's python3-alembic, python3-sqlalchemy and python3-psycopg2, which
/// scripts/test.sh installs. Every call is a separate python3 process, as the Python team would run it.
/// </summary>
internal static class PythonApp
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>STATUSDATA_PYTHON, else Debian's /usr/bin/python3 (a pyenv python3 on PATH lacks the Debian packages).</summary>
    public static string Python { get; } =
        Environment.GetEnvironmentVariable("STATUSDATA_PYTHON") is { Length: > 0 } python ? python
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3"
        : "python3";

    public static string SourceDirectory { get; } = Path.Combine(Repository.Root, "tests", "PythonApp");

    /// <summary>A private copy of the app, for commands that write into it (alembic revision --autogenerate).</summary>
    public static string CopyTo(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(SourceDirectory, "*", SearchOption.AllDirectories).Where(f => !f.Contains("__pycache__", StringComparison.Ordinal)))
        {
            var target = Path.Combine(directory, Path.GetRelativePath(SourceDirectory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return directory;
    }

    /// <summary>SQLAlchemy's URL for an Npgsql connection string (psycopg2 driver).</summary>
    public static string DatabaseUrl(string connectionString)
    {
        var c = new NpgsqlConnectionStringBuilder(connectionString);
        var password = string.IsNullOrEmpty(c.Password) ? string.Empty : ":" + Uri.EscapeDataString(c.Password);
        return $"postgresql+psycopg2://{Uri.EscapeDataString(c.Username!)}{password}@{c.Host}:{c.Port}/{Uri.EscapeDataString(c.Database!)}";
    }

    public static Task<ProcessResult> AlembicAsync(string connectionString, params string[] arguments) =>
        RunAsync(SourceDirectory, connectionString, null, ["-m", "alembic", .. arguments]);

    public static Task<ProcessResult> AlembicAsync(string appDirectory, string connectionString, IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        RunAsync(appDirectory, connectionString, environment, ["-m", "alembic", .. arguments]);

    /// <summary>Runs orm_check.py and parses the one JSON line it prints.</summary>
    public static async Task<JsonElement> OrmAsync(string connectionString, params string[] arguments)
    {
        var result = await RunAsync(SourceDirectory, connectionString, null, ["orm_check.py", .. arguments]);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }

    /// <summary>The tables the SQLAlchemy models map, each with its columns: orm_check.py dump-models, which reads Base.metadata and no database.</summary>
    public static async Task<Dictionary<string, List<string>>> ModelsAsync()
    {
        var result = await RunAsync(SourceDirectory, connectionString: null, null, ["orm_check.py", "dump-models"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonSerializer.Deserialize<Dictionary<string, List<string>>>(result.Stdout)!;
    }

    private static async Task<ProcessResult> RunAsync(string directory, string? connectionString, IReadOnlyDictionary<string, string>? environment, IEnumerable<string> arguments)
    {
        var variables = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString is null ? null : DatabaseUrl(connectionString),
            ["PYTHONDONTWRITEBYTECODE"] = "1",
            ["PYTHONPATH"] = null,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        ProcessResult result;
        try
        {
            result = await ChildProcess.RunAsync(Python, arguments, Timeout, variables, directory);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot run {Python}: {e.Message}. Install Python with Alembic: sudo apt-get install -y python3-alembic python3-sqlalchemy python3-psycopg2 (scripts/test.sh does it as root).", e);
        }

        if (result.ExitCode != 0 && result.Stderr.Contains("ModuleNotFoundError", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{Python} lacks a module the Python app needs. Install them: sudo apt-get install -y python3-alembic python3-sqlalchemy python3-psycopg2 (scripts/test.sh does it as root).{Environment.NewLine}{result}");
        }

        return result;
    }
}
