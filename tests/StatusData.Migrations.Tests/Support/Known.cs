using FluentMigrator;

namespace StatusData.Migrations.Tests.Support;

/// <summary>The built-in migrations, as the tests expect them.</summary>
internal static class Known
{
    public const long Initial = 202602282200;
    public const long KeysetIndexes = 202611220900;
    public const string InitialDescription = "initial users and status_updates";
    public const string KeysetIndexesDescription = "keyset pagination indexes";

    /// <summary>
    /// SHA-256 (lowercase hex) of the Up SQL FluentMigrator 8.0.1's PostgreSQL 15 generator writes for
    /// each migration, joined by ";\n": what version_info.checksum must hold. Pinned: a change to a shipped
    /// migration, or a FluentMigrator upgrade that changes its SQL, fails here before it reaches a database.
    /// </summary>
    public const string InitialChecksum = "845d658f8a4b4a968d99d738bc11a985204cfdadf1aa4cb2a9dbfd29f91b2203";

    public const string KeysetIndexesChecksum = "37820b8e1d4ea8e77c5abf6d3e32dd886e372d7c3d6416311b17d44371a433d6";

    /// <summary>What 202611220900 recorded while it built its indexes in one transaction, without CONCURRENTLY: taken over like the legacy ones.</summary>
    public const string TransactionalKeysetIndexesChecksum = "d892efb60eaf2b5ffd947a904468f3400b74dd0bdc46d7d1c3d51fec6e10d2e1";

    /// <summary>What the runner before FluentMigrator recorded (SHA-256 of its hand-written SQL), for the take-over tests.</summary>
    public const string LegacyInitialChecksum = "270b81d5040be54a0ce022ff7bf94e9a5337e5717044417c5b336b762114ea82";

    public const string LegacyKeysetIndexesChecksum = "79aa5fa59d43c538772b483401e545bc8d1ffa5a5505f4975a525bba45ce97fc";

    public static readonly IReadOnlyList<(long Version, string Description)> Both =
        [(Initial, InitialDescription), (KeysetIndexes, KeysetIndexesDescription)];

    public static IReadOnlyList<IMigration> BuiltIn() => StatusDataMigrator.Discover(typeof(StatusDataMigrator).Assembly);
}
