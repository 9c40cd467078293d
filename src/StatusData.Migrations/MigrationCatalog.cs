using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace StatusData.Migrations;

/// <summary>A migration with everything the runner needs precomputed: its SQL and checksum.</summary>
internal sealed record KnownMigration(
    long Version,
    string Description,
    IReadOnlyList<string> UpStatements,
    IReadOnlyList<string> DownStatements,
    string Checksum);

/// <summary>The ordered, validated set of migrations a runner works with.</summary>
internal sealed class MigrationCatalog
{
    private MigrationCatalog(IReadOnlyList<KnownMigration> migrations) => Migrations = migrations;

    /// <summary>Ascending by version.</summary>
    public IReadOnlyList<KnownMigration> Migrations { get; }

    public long LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    public KnownMigration? Find(long version) => Migrations.FirstOrDefault(m => m.Version == version);

    public static IReadOnlyList<Migration> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true } && t.IsSubclassOf(typeof(Migration))
                        && t.GetCustomAttribute<MigrationAttribute>() is not null)
            .Select(t => (Migration)Activator.CreateInstance(t)!)
            .ToList();

    public static MigrationCatalog Create(IEnumerable<Migration> migrations)
    {
        var known = new List<KnownMigration>();
        foreach (var migration in migrations)
        {
            var type = migration.GetType();
            var attribute = type.GetCustomAttribute<MigrationAttribute>()
                ?? throw new ArgumentException($"Migration {type.FullName} has no [Migration(version, description)] attribute.", nameof(migrations));
            ValidateVersion(attribute.Version, type);
            if (string.IsNullOrWhiteSpace(attribute.Description) || attribute.Description.Length > 1024)
            {
                throw new ArgumentException($"Migration {type.FullName} needs a description of 1 to 1024 characters.", nameof(migrations));
            }

            var up = migration.Describe(up: true);
            var down = migration.Describe(up: false);
            if (up.Count == 0)
            {
                throw new ArgumentException($"Migration {attribute.Version} ({type.FullName}) has no Up statements.", nameof(migrations));
            }

            known.Add(new KnownMigration(attribute.Version, attribute.Description, up, down, Checksum(up)));
        }

        known.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < known.Count; i++)
        {
            if (known[i].Version == known[i - 1].Version)
            {
                throw new ArgumentException($"Two migrations share version {known[i].Version}.", nameof(migrations));
            }
        }

        return new MigrationCatalog(known);
    }

    /// <summary>SHA-256 of the Up statements, lowercase hex: what drift detection compares.</summary>
    private static string Checksum(IReadOnlyList<string> statements)
    {
        var text = string.Join(";\n", statements);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static void ValidateVersion(long version, Type type)
    {
        var text = version.ToString(CultureInfo.InvariantCulture);
        if (text.Length != 12 || !DateTime.TryParseExact(text, "yyyyMMddHHmm", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            throw new ArgumentException($"Migration {type.FullName} has version {version}; versions are yyyyMMddHHmm, e.g. 202602282200.", nameof(type));
        }
    }
}
