using System.Text.RegularExpressions;

namespace StatusData.Migrations.Tests;

/// <summary>docs/migrations.md's API table lists exactly the public members PublicAPI.Unshipped.txt pins, signature for signature.</summary>
public sealed partial class ApiDocsTests
{
    private static readonly string[] Namespaces =
    [
        "System.Threading.Tasks.", "System.Threading.", "System.Collections.Generic.", "System.Reflection.", "System.", "StatusData.Migrations.",
        "FluentMigrator.", "Microsoft.Extensions.DependencyInjection.", "Microsoft.Extensions.Logging.", "Npgsql.",
    ];

    [Fact]
    public async Task TheApiTableOfTheDocsMatchesThePinnedPublicApi()
    {
        var pinned = (await File.ReadAllLinesAsync(Path.Combine(Repository.Root, "src", "StatusData.Migrations", "PublicAPI.Unshipped.txt"), Ct))
            .Select(Documented)
            .OfType<string>()
            .Order()
            .ToList();
        var docs = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "docs", "migrations.md"), Ct);
        var table = docs[docs.IndexOf("<!-- api:begin", StringComparison.Ordinal)..docs.IndexOf("<!-- api:end -->", StringComparison.Ordinal)];
        var documented = Row().Matches(table).Select(m => m.Groups[1].Value).Order().ToList();

        Assert.True(pinned.Count >= 20, $"only {pinned.Count} members found in PublicAPI.Unshipped.txt");
        Assert.Equal(pinned, documented);
    }

    /// <summary>A pinned line as the docs write it: no namespaces, no nullability marks, the declaring type only where the member is a record's constructor.</summary>
    private static string? Documented(string line)
    {
        var signature = Regex.Replace(line.Trim(), "^(static |const )", string.Empty).Split(" -> ")[0].Replace("!", string.Empty, StringComparison.Ordinal);
        foreach (var prefix in Namespaces)
        {
            signature = signature.Replace(prefix, string.Empty, StringComparison.Ordinal);
        }

        signature = signature.Replace("CancellationToken cancellationToken = default(CancellationToken)", "CancellationToken cancellationToken = default", StringComparison.Ordinal);
        if (Member().Match(signature) is { Success: true } member)
        {
            var name = member.Groups[2].Value;
            return name.EndsWith(".get", StringComparison.Ordinal) ? name[..^4] : name.StartsWith("VersionTable = ", StringComparison.Ordinal) ? "VersionTable" : name;
        }

        return RecordConstructor().Match(signature) is { Success: true } record ? record.Groups[1].Value + record.Groups[2].Value : null;
    }

    [GeneratedRegex(@"^(StatusDataMigrator|ApplicationRole|StatusDataMigrationsServiceCollectionExtensions)\.(.+)$")]
    private static partial Regex Member();

    [GeneratedRegex(@"^(MigrationStatus|AlembicStatus|MigrationResult|MigrationStep|MigrationPlan|PlannedMigration|PlannedStatement|PlannedLock)\.\1(\(.*\))$")]
    private static partial Regex RecordConstructor();

    [GeneratedRegex(@"^\| `([^`]+)` \|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
