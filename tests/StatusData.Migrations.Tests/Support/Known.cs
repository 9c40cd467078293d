using System.Security.Cryptography;
using System.Text;
using StatusData.Migrations.Versions;

namespace StatusData.Migrations.Tests.Support;

/// <summary>The built-in migrations, as the tests expect them.</summary>
internal static class Known
{
    public const long Initial = 202602282200;
    public const long KeysetIndexes = 202611220900;
    public const string InitialDescription = "initial users and status_updates";
    public const string KeysetIndexesDescription = "keyset pagination indexes";

    public static readonly IReadOnlyList<(long Version, string Description)> Both =
        [(Initial, InitialDescription), (KeysetIndexes, KeysetIndexesDescription)];

    /// <summary>SHA-256 (lowercase hex) of a migration's Up statements joined by ";\n": what version_info.checksum must hold.</summary>
    public static string ChecksumOf(Migration migration) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(";\n", migration.Describe(up: true)))));

    public static string InitialChecksum { get; } = ChecksumOf(new InitialUsersAndStatusUpdates());

    public static string KeysetIndexesChecksum { get; } = ChecksumOf(new KeysetPaginationIndexes());

    public static IReadOnlyList<Migration> BuiltIn() => MigrationRunner.Discover(typeof(MigrationRunner).Assembly);
}
