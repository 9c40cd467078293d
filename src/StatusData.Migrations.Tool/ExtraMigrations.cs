using System.CommandLine;
using System.Reflection;

namespace StatusData.Migrations.Cli;

/// <summary>
/// The hidden <c>--migrations-assembly &lt;path&gt;</c> option: run the built-in migrations plus those
/// found (with <see cref="StatusDataMigrator.Discover"/>) in another assembly. It exists for tests that
/// need a migration of their own in the real CLI process, such as the reliability tests' slow
/// migration (tests/StatusData.TestMigrations) that they kill the CLI in the middle of. It is hidden
/// from <c>--help</c> because deployments should run exactly the migrations shipped in this tool; it
/// loads and runs code from the given file, so only point it at assemblies you trust as much as the
/// tool itself. Documented in docs/reliability.md.
/// </summary>
internal static class ExtraMigrations
{
    public static readonly Option<string?> Option = new("--migrations-assembly")
    {
        Description = "Also run the migrations found in this assembly (tests only).",
        Hidden = true,
        Recursive = true,
    };

    /// <summary>Adds the extra assembly's migrations to <paramref name="options"/>, if the option was given.</summary>
    public static StatusDataMigratorOptions Apply(ParseResult result, StatusDataMigratorOptions options)
    {
        var path = result.GetValue(Option);
        if (string.IsNullOrWhiteSpace(path))
        {
            return options;
        }

        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, $"--migrations-assembly: no such file: {fullPath}");
        }

        Assembly assembly;
        try
        {
            assembly = Assembly.LoadFrom(fullPath);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException)
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, $"--migrations-assembly: cannot load {fullPath}: {e.Message}", e);
        }

        options.Migrations = [.. StatusDataMigrator.Discover(typeof(StatusDataMigrator).Assembly), .. StatusDataMigrator.Discover(assembly)];
        return options;
    }
}
