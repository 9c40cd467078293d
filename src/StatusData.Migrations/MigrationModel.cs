using FluentMigrator;

namespace StatusData.Migrations;

/// <summary>Where one migration stands in a database.</summary>
public enum MigrationState
{
    /// <summary>Known to the code, not applied yet.</summary>
    Pending,

    /// <summary>Applied, and its SQL still matches the checksum recorded when it was applied.</summary>
    Applied,

    /// <summary>Applied, but the migration's SQL in the code has changed since (drift).</summary>
    ChecksumMismatch,

    /// <summary>Recorded in the database but unknown to this build: the database is ahead of the code.</summary>
    UnknownToCode,

    /// <summary>
    /// Recorded as applied, but <c>alembic_version</c> says the Python side has since downgraded below it:
    /// its schema is probably gone. <see cref="AlembicStatus.Disagreement"/> says what to do.
    /// </summary>
    RevertedByAlembic,
}

/// <summary>Where Alembic's <c>alembic_version</c> stands next to <c>version_info</c>.</summary>
/// <param name="TableExists">Whether the database has an alembic_version table at all.</param>
/// <param name="Revisions">Its rows: one revision normally, none at Alembic's base.</param>
/// <param name="Expected">The revision version_info implies: the one the newest applied mirroring migration mirrors; <see langword="null"/> for base.</param>
/// <param name="Disagreement">What is wrong and what to do, when the two disagree; <see langword="null"/> when they agree.</param>
public sealed record AlembicStatus(bool TableExists, IReadOnlyList<string> Revisions, string? Expected, string? Disagreement);

/// <summary>One line of <see cref="StatusDataMigrator.GetStatusAsync"/>.</summary>
/// <param name="Version">The version, <c>yyyyMMddHHmm</c>.</param>
/// <param name="Description">The description, from the code (or from the version table for unknown versions).</param>
/// <param name="State">Pending, applied, drifted, unknown to the code, or reverted by Alembic.</param>
/// <param name="AppliedOn">When it was applied (UTC), or <see langword="null"/> if pending.</param>
/// <param name="AlembicRevision">The Alembic revision the migration mirrors, if any.</param>
public sealed record MigrationStatus(long Version, string Description, MigrationState State, DateTime? AppliedOn, string? AlembicRevision = null);

/// <summary>One migration that a run applied or reverted.</summary>
/// <param name="Version">The version, <c>yyyyMMddHHmm</c>.</param>
/// <param name="Description">The description.</param>
/// <param name="Direction">Applied (up) or reverted (down).</param>
/// <param name="Duration">How long its transaction took, lock wait included.</param>
public sealed record MigrationStep(long Version, string Description, MigrationDirection Direction, TimeSpan Duration);

/// <summary>What a run did.</summary>
/// <param name="Steps">The migrations this runner applied or reverted, in order. Empty when there was nothing to do.</param>
/// <param name="CurrentVersion">The highest applied version after the run; 0 when none is applied.</param>
public sealed record MigrationResult(IReadOnlyList<MigrationStep> Steps, long CurrentVersion);

/// <summary>What <see cref="StatusDataMigrator.PlanAsync"/> says an <c>up</c> would do, before it runs.</summary>
/// <param name="Migrations">The pending migrations it would apply, in order; empty when there is nothing to do.</param>
/// <param name="CurrentVersion">The highest version applied now; 0 when none is.</param>
/// <param name="TargetVersion">The version the run would end at.</param>
public sealed record MigrationPlan(IReadOnlyList<PlannedMigration> Migrations, long CurrentVersion, long TargetVersion);

/// <summary>One migration of a <see cref="MigrationPlan"/>.</summary>
/// <param name="Version">The version, <c>yyyyMMddHHmm</c>.</param>
/// <param name="Description">The description.</param>
/// <param name="InTransaction">
/// Whether its statements and its version row run in one transaction (each attempt waits at most
/// <see cref="StatusDataMigratorOptions.LockAttemptTimeout"/> for its locks, then rolls back and is retried, up to
/// <see cref="StatusDataMigratorOptions.LockTimeout"/>); false for concurrent index builds, whose statements commit one by
/// one and whose version row is written last.
/// </param>
/// <param name="Statements">Its Up statements in order, each with the table locks it takes; the version row last.</param>
/// <param name="RuleViolations">The migration rules its Up step breaks and does not waive, as sentences; empty if none.</param>
public sealed record PlannedMigration(long Version, string Description, bool InTransaction, IReadOnlyList<PlannedStatement> Statements, IReadOnlyList<string> RuleViolations);

/// <summary>One statement of a <see cref="PlannedMigration"/>.</summary>
/// <param name="Sql">The SQL, as FluentMigrator generates it (several statements, one per line, for the version row's bookkeeping).</param>
/// <param name="Locks">The strongest lock it takes on each table it locks; empty for a step that runs no SQL.</param>
public sealed record PlannedStatement(string Sql, IReadOnlyList<PlannedLock> Locks);

/// <summary>A table lock a <see cref="PlannedStatement"/> takes, and what it means for the applications.</summary>
/// <param name="Mode">PostgreSQL's lock mode, e.g. <c>ACCESS EXCLUSIVE</c>, <c>SHARE UPDATE EXCLUSIVE</c>; <c>unknown</c> for SQL the plan cannot inspect.</param>
/// <param name="Table">The table, schema-qualified when the migration names a schema; <see langword="null"/> when there is none or it is unknown.</param>
/// <param name="Effect">What the lock does to reads and writes, in an operator's words, e.g. "blocks writes to status_updates until done; reads go on".</param>
public sealed record PlannedLock(string Mode, string? Table, string Effect);

/// <summary>Why a migration command failed. Each value is the exit code <c>statusdata-migrate</c> ends with for it.</summary>
public enum MigrationFailure
{
    /// <summary>Exit code 1: a migration's SQL failed; its transaction was rolled back, so nothing of it remains.</summary>
    MigrationFailed = 1,

    /// <summary>Exit code 2: the request itself is invalid, e.g. an unknown target version (checked before connecting), or a role that does not exist.</summary>
    InvalidRequest = 2,

    /// <summary>
    /// Exit code 3: a safety check refused to go on: drift, versions unknown to the code, a schema without a version
    /// table, a schema that does not match a baseline, or a step that would destroy rows without
    /// <see cref="StatusDataMigratorOptions.AllowDataLoss"/>. Nothing was changed.
    /// </summary>
    Refused = 3,

    /// <summary>Exit code 4: another runner held the migration lock (or a table lock a migration needs) for longer than the configured lock timeout.</summary>
    LockTimeout = 4,

    /// <summary>
    /// Exit code 5: the database could not be reached or refused the login: nothing listens at the address, the host
    /// name does not resolve, the password or the user is refused, the database does not exist. The message says which
    /// and what to check. Nothing was changed.
    /// </summary>
    ConnectionFailed = 5,
}

/// <summary>A migration command failed. <see cref="Exception.Message"/> says what happened and what to do.</summary>
public sealed class MigrationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failure">The kind of failure.</param>
    /// <param name="message">What happened and what to do, in words an operator can act on.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public MigrationException(MigrationFailure failure, string message, Exception? innerException = null)
        : base(message, innerException) => Failure = failure;

    /// <summary>The kind of failure.</summary>
    public MigrationFailure Failure { get; }
}

/// <summary>Settings of a <see cref="StatusDataMigrator"/>.</summary>
public sealed class StatusDataMigratorOptions
{
    /// <summary>
    /// The FluentMigrator migrations to run. Defaults to the StatusData migrations in this assembly;
    /// tests and extensions may pass their own (see <see cref="StatusDataMigrator.Discover"/>).
    /// </summary>
    public IReadOnlyList<IMigration>? Migrations { get; set; }

    /// <summary>
    /// How long to wait for the migration lock, and, over all attempts, for the table locks a migration needs
    /// (see <see cref="LockAttemptTimeout"/>), before failing with <see cref="MigrationFailure.LockTimeout"/>. Default: 60 seconds. Positive and at most
    /// <see cref="StatusDataMigrator.MaxLockTimeout"/> (about 24.8 days); rounded up to whole milliseconds.
    /// </summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one attempt of a migration waits for a table lock before it gives up, rolls back, pauses and tries
    /// again (up to <see cref="LockTimeout"/> in all; a deadlock is retried the same way). While a DDL statement waits
    /// for a strong lock (ALTER TABLE, DROP, adding a constraint), every query of the apps on that table queues behind
    /// it: this is the longest such a queue lasts. Default: 1 second. Positive and at most
    /// <see cref="StatusDataMigrator.MaxLockTimeout"/>; the lesser of it and <see cref="LockTimeout"/> applies.
    /// </summary>
    public TimeSpan LockAttemptTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Let <c>up</c> proceed although an applied migration's SQL has changed since it was applied.
    /// Off by default: drift means the database may not be what the code believes it is.
    /// </summary>
    public bool AllowChecksumMismatch { get; set; }

    /// <summary>
    /// Let <c>down</c> and <c>rollback</c> run steps that destroy data (drop a table or a column that holds rows, or
    /// run SQL that may). Off by default: such a run is refused with <see cref="MigrationFailure.Refused"/>, naming
    /// each table and its row count, and nothing is changed.
    /// </summary>
    public bool AllowDataLoss { get; set; }
}
