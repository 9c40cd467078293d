using Microsoft.Extensions.Logging;

namespace StatusData.Migrations.Internal;

/// <summary>Every line the runner logs, with its event id. FluentMigrator's own lines go out at Debug level (event 10).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Applying migration {Version}: {Description}")]
    public static partial void Applying(ILogger logger, long version, string description);

    [LoggerMessage(2, LogLevel.Information, "Applied migration {Version} in {ElapsedMs} ms")]
    public static partial void Applied(ILogger logger, long version, long elapsedMs);

    [LoggerMessage(3, LogLevel.Information, "Reverting migration {Version}: {Description}")]
    public static partial void Reverting(ILogger logger, long version, string description);

    [LoggerMessage(4, LogLevel.Information, "Reverted migration {Version} in {ElapsedMs} ms")]
    public static partial void Reverted(ILogger logger, long version, long elapsedMs);

    [LoggerMessage(5, LogLevel.Warning, "Applying migration {Version} out of order: {Newest} is already applied")]
    public static partial void OutOfOrder(ILogger logger, long version, long newest);

    [LoggerMessage(6, LogLevel.Warning, "Checksum mismatch allowed for applied migration(s) {Migrations}")]
    public static partial void DriftAllowed(ILogger logger, string migrations);

    [LoggerMessage(7, LogLevel.Warning, "Migration {Version} changed after it was applied; reverting it with the Down step of the current code")]
    public static partial void DriftOnDown(ILogger logger, long version);

    [LoggerMessage(8, LogLevel.Information, "Baselined at {Version}: recorded {Count} migration(s) as applied without running them")]
    public static partial void Baselined(ILogger logger, long version, int count);

    [LoggerMessage(9, LogLevel.Information, "Took over version_info from an earlier runner: {Count} checksum(s) rewritten")]
    public static partial void TookOver(ILogger logger, int count);

    [LoggerMessage(10, LogLevel.Debug, "FluentMigrator: {Message}")]
    public static partial void FluentMigrator(ILogger logger, string message);

    [LoggerMessage(11, LogLevel.Information, "Recorded Alembic revision {Revision} in a new alembic_version table, as version_info implies")]
    public static partial void StampedAlembic(ILogger logger, string revision);

    [LoggerMessage(12, LogLevel.Warning, "Migration {Version} attempt {Attempt} gave up waiting for its locks ({SqlState}) and rolled back; trying again in {PauseMs} ms ({LeftMs} ms of the lock timeout left)")]
    public static partial void Retrying(ILogger logger, long version, int attempt, string sqlState, long pauseMs, long leftMs);

    [LoggerMessage(13, LogLevel.Warning, "Index {Index} was left INVALID by an earlier build that failed or was killed; dropping it concurrently to build it again")]
    public static partial void DroppingInvalidIndex(ILogger logger, string index);

    [LoggerMessage(14, LogLevel.Information, "Index {Index} was already built, valid and as the migration defines it, by an earlier run that stopped before recording the migration; keeping it")]
    public static partial void KeepingBuiltIndex(ILogger logger, string index);
}
