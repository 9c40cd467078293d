using System.Reflection;
using FluentMigrator;
using FluentMigrator.Runner;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations;

/// <summary>
/// Applies, reverts, inspects, plans, baselines and scripts the StatusData migrations on one PostgreSQL
/// database, with FluentMigrator's runner doing the migrating.
/// </summary>
/// <remarks>
/// <para>FluentMigrator runs every migration in its own transaction together with its version row, so
/// a failure leaves both the schema and <c>version_info</c> exactly as they were (on a database's first
/// run, the empty <c>version_info</c> table is created just before; it stays, empty, if that migration fails).
/// A migration of concurrent index builds runs outside a transaction (<see cref="TransactionBehavior.None"/>);
/// its version row is written only once every index is valid, and the next run finishes what a failed one left.
/// A refusal changes nothing: every check runs before the first write.</para>
/// <para>What FluentMigrator lacks is built on top of it, each part in a file of its own under <c>Internal/</c>:
/// the lock that serializes runners (<c>MigrationLock</c>); the checks under it (<c>SafetyChecks</c>):
/// drift, versions unknown to the code, tables without a version table, data a Down step would destroy;
/// co-ownership with the Python side's Alembic (<c>AlembicCoOwnership</c>); <c>Baseline</c>; the take-over of
/// databases earlier releases recorded (<c>LegacyChecksums</c>); short lock waits with retries and error
/// translation around FluentMigrator's runner (<c>MigrationSteps</c>); rendering of scripts and plans.</para>
/// <para>FluentMigrator's processor is synchronous: cancellation takes effect while waiting for the lock
/// and between migrations; a migration already running finishes (commit or rollback) first.</para>
/// </remarks>
public sealed class StatusDataMigrator
{
    /// <summary>The table that records applied versions.</summary>
    public const string VersionTable = VersionInfoTable.Name;

    private readonly NpgsqlConnectionStringBuilder _connection;
    private readonly MigrationCatalog _catalog;
    private readonly StatusDataMigratorOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a migrator for one database.</summary>
    /// <param name="connectionString">
    /// The Npgsql connection string of a role that may change the schema. FluentMigrator connects with
    /// it as given (it takes connection strings, not data sources), plus <c>Pooling=false</c>: it opens
    /// one connection per migration. Its <c>Command Timeout</c> is replaced by none: lock waits are bounded by
    /// <see cref="StatusDataMigratorOptions.LockTimeout"/>, and a migration's statements run as long as they need.
    /// </param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where progress goes; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException">The connection string does not parse, or a migration is invalid.</exception>
    public StatusDataMigrator(string connectionString, StatusDataMigratorOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        // No client-side Command Timeout (Npgsql's default is 30 s) for any of the runner's connections: a wait for a
        // lock ends at LockTimeout (the server's lock_timeout, then LockTimeout failure), and a migration's statement
        // runs as long as it needs. With the default, a runner waiting for the migration lock gave up after 30 s with
        // "Exception while reading from stream" (exit 1), before the 60 s lock timeout (exit 4).
        _connection = new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 };
        _options = options ?? new StatusDataMigratorOptions();
        Internal.LockTimeout.Validate(_options.LockTimeout, nameof(options));
        Internal.LockTimeout.Validate(_options.LockAttemptTimeout, nameof(options));
        _catalog = MigrationCatalog.Create(_options.Migrations ?? Discover(typeof(StatusDataMigrator).Assembly));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The longest <see cref="StatusDataMigratorOptions.LockTimeout"/>: PostgreSQL's lock_timeout is an int of milliseconds.</summary>
    public static TimeSpan MaxLockTimeout => Internal.LockTimeout.Max;

    /// <summary>The newest version this migrator knows.</summary>
    public long LatestVersion => _catalog.LatestVersion;

    /// <summary>Finds every concrete FluentMigrator migration with a <see cref="MigrationAttribute"/> in an assembly.</summary>
    /// <param name="assembly">The assembly to scan.</param>
    /// <returns>One instance of each migration, in no particular order.</returns>
    public static IReadOnlyList<IMigration> Discover(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return MigrationCatalog.Discover(assembly);
    }

    /// <summary>Applies pending migrations up to <paramref name="targetVersion"/>, or all of them.</summary>
    /// <param name="targetVersion">The last version to apply; <see langword="null"/> for the latest.</param>
    /// <param name="cancellationToken">Stops the run before the next migration.</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, or a safety check refused; or the database could not be reached (<see cref="MigrationFailure.ConnectionFailed"/>).</exception>
    /// <exception cref="NpgsqlException">The connection broke in the middle of the run, outside a migration.</exception>
    public async Task<MigrationResult> UpAsync(long? targetVersion = null, CancellationToken cancellationToken = default)
    {
        var target = targetVersion ?? _catalog.LatestVersion;
        RequireKnown(target, allowZero: false);
        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        var held = await MigrationLock.TakeAsync(dataSource, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        await using var lockScope = held.ConfigureAwait(false);
        var state = await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
        SafetyChecks.RefuseUnknownVersions(_catalog, state);
        AlembicCoOwnership.RefuseDisagreement(_catalog, state);
        SafetyChecks.RefuseDrift(_catalog, state, _options.AllowChecksumMismatch, _logger);
        var pending = _catalog.Migrations.Where(m => m.Version <= target && !state.Applied.ContainsKey(m.Version)).ToList();
        if (pending.Count > 0 && state.Applied.Count == 0)
        {
            // Also when version_info exists but is empty: a first migration that failed leaves it so.
            await SafetyChecks.RefuseUnmanagedSchemaAsync(dataSource, cancellationToken).ConfigureAwait(false);
        }

        // Every check has passed: only now does anything change.
        if (pending.Count > 0 && !state.VersionTableExists)
        {
            using var create = dataSource.CreateCommand(VersionInfoTable.CreateSql);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        state = await BringUpToDateAsync(dataSource, state, cancellationToken).ConfigureAwait(false);
        foreach (var late in pending.Where(m => m.Version < state.CurrentVersion))
        {
            Log.OutOfOrder(_logger, late.Version, state.CurrentVersion);
        }

        var steps = await new MigrationSteps(_connection.ConnectionString, _catalog, _options, _logger)
            .RunAsync(MigrationDirection.Up, pending.Select(m => (m, (Action<IMigrationRunner>)(runner => runner.MigrateUp(m.Version)))).ToList(), cancellationToken)
            .ConfigureAwait(false);
        return new MigrationResult(steps, (await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false)).CurrentVersion);
    }

    /// <summary>Reverts applied migrations newer than <paramref name="targetVersion"/>, newest first.</summary>
    /// <param name="targetVersion">The version to end at; 0 reverts everything.</param>
    /// <param name="cancellationToken">Stops the run before the next migration.</param>
    /// <returns>What was reverted. Running it again is a no-op: down is idempotent.</returns>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, a version to revert is unknown to the code, or a step would destroy data (<see cref="StatusDataMigratorOptions.AllowDataLoss"/>); or the database could not be reached (<see cref="MigrationFailure.ConnectionFailed"/>).</exception>
    public Task<MigrationResult> DownAsync(long targetVersion, CancellationToken cancellationToken = default)
    {
        RequireKnown(targetVersion, allowZero: true);
        return DownToAsync(_ => targetVersion, cancellationToken);
    }

    /// <summary>Reverts the last <paramref name="steps"/> applied migrations.</summary>
    /// <param name="steps">How many to revert; at least 1.</param>
    /// <param name="cancellationToken">Stops the run before the next migration.</param>
    /// <returns>What was reverted.</returns>
    /// <remarks>The target is resolved once, under the lock, from the versions applied at that moment.
    /// Pipelines that may run concurrently should prefer <see cref="DownAsync"/>, which is idempotent.</remarks>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, a version to revert is unknown to the code, or a step would destroy data (<see cref="StatusDataMigratorOptions.AllowDataLoss"/>); or the database could not be reached (<see cref="MigrationFailure.ConnectionFailed"/>).</exception>
    public Task<MigrationResult> RollbackAsync(int steps = 1, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return DownToAsync(state => state.Applied.Keys.OrderDescending().Skip(steps).FirstOrDefault(), cancellationToken);
    }

    /// <summary>Lists every known migration and every applied one, with its state and applied-on time.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The migrations ascending by version.</returns>
    public async Task<IReadOnlyList<MigrationStatus>> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        var revertedAbove = AlembicCoOwnership.DowngradedBelow(_catalog, state);
        return _catalog.Migrations
            .Select(m => state.Applied.TryGetValue(m.Version, out var row)
                ? new MigrationStatus(m.Version, m.Description, m.Version > revertedAbove ? MigrationState.RevertedByAlembic : SafetyChecks.Matches(m, row) ? MigrationState.Applied : MigrationState.ChecksumMismatch, row.AppliedOn, m.AlembicRevision)
                : new MigrationStatus(m.Version, m.Description, MigrationState.Pending, null, m.AlembicRevision))
            .Concat(state.Applied.Values
                .Where(row => _catalog.Find(row.Version) is null)
                .Select(row => new MigrationStatus(row.Version, row.Description, MigrationState.UnknownToCode, row.AppliedOn)))
            .OrderBy(s => s.Version)
            .ToList();
    }

    /// <summary>Reads <c>alembic_version</c> and says whether it agrees with <c>version_info</c>.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The revisions in the database, the one version_info implies, and what to do if they disagree.</returns>
    public async Task<AlembicStatus> GetAlembicStatusAsync(CancellationToken cancellationToken = default) =>
        AlembicCoOwnership.Check(_catalog, await ReadStateAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Records every migration up to <paramref name="version"/> as applied without running it, for a
    /// database whose schema something else created: the Python side's Alembic (which may also have gone
    /// first with a later revision), or a restore. Refuses unless the existing schema matches, fact by fact
    /// in the catalog, what those migrations create. Migrations already recorded stay as they are.
    /// </summary>
    /// <param name="version">
    /// A known version, e.g. 202602282200 for Alembic's <c>a1b2c3d4e5f6</c>; <see langword="null"/> to take
    /// the migration that mirrors the revision in <c>alembic_version</c>.
    /// </param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The version baselined at.</returns>
    /// <exception cref="MigrationException">The schema does not match, the records or alembic_version disagree with the version, or the lock wait timed out; or the database could not be reached (<see cref="MigrationFailure.ConnectionFailed"/>).</exception>
    public async Task<long> BaselineAsync(long? version = null, CancellationToken cancellationToken = default)
    {
        if (version is { } given)
        {
            RequireKnown(given, allowZero: false); // before connecting: a usage error whether or not the server is up
        }

        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        var held = await MigrationLock.TakeAsync(dataSource, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        await using var lockScope = held.ConfigureAwait(false);
        var state = await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
        var target = version ?? AlembicCoOwnership.BaselineVersion(_catalog, state);
        RequireKnown(target, allowZero: false);
        var recorded = await Baseline.RecordAsync(held, _catalog, state, target, cancellationToken).ConfigureAwait(false);
        Log.Baselined(_logger, target, recorded);
        return target;
    }

    /// <summary>
    /// The SQL that <see cref="UpAsync"/> or <see cref="DownAsync"/> would run, without a database:
    /// the plan assumes every known migration up to <paramref name="fromVersion"/> is applied.
    /// </summary>
    /// <param name="direction">Up or down.</param>
    /// <param name="fromVersion">The version the database is at; 0 for an empty database.</param>
    /// <param name="toVersion">The version to end at; for up, <see langword="null"/> means the latest.</param>
    /// <returns>A psql-runnable script, one transaction per migration (a session lock around one that runs outside a transaction).</returns>
    public string Script(MigrationDirection direction, long fromVersion, long? toVersion)
    {
        RequireKnown(fromVersion, allowZero: true);
        var applied = _catalog.Migrations.Where(m => m.Version <= fromVersion).Select(m => m.Version).ToHashSet();
        return ScriptRenderer.Render(_catalog, direction, Pending(direction, applied, toVersion), toVersion ?? _catalog.LatestVersion, ScriptLockTimeoutSetting);
    }

    /// <summary>The SQL that <see cref="UpAsync"/> or <see cref="DownAsync"/> would run now, read from the database's applied versions. Changes nothing.</summary>
    /// <param name="direction">Up or down.</param>
    /// <param name="toVersion">The version to end at; for up, <see langword="null"/> means the latest.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>A psql-runnable script, one transaction per migration (a session lock around one that runs outside a transaction).</returns>
    public async Task<string> ScriptAsync(MigrationDirection direction, long? toVersion, CancellationToken cancellationToken = default)
    {
        RequireTarget(direction, toVersion); // before connecting
        var state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        SafetyChecks.RefuseUnknownVersions(_catalog, state);
        return ScriptRenderer.Render(_catalog, direction, Pending(direction, state.Applied.Keys.ToHashSet(), toVersion), toVersion ?? _catalog.LatestVersion, ScriptLockTimeoutSetting);
    }

    /// <summary>
    /// What <see cref="UpAsync"/> would do now, read from the database's applied versions, before it runs: for each pending
    /// migration its statements, whether it runs in a transaction, the strongest lock each statement takes on which table,
    /// and the migration rules it breaks. Changes nothing.
    /// </summary>
    /// <param name="toVersion">The last version to apply; <see langword="null"/> for the latest.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The plan; no migrations when there is nothing to apply.</returns>
    /// <exception cref="MigrationException">An unknown target (before connecting), versions in the database unknown to the code, or the database could not be reached (<see cref="MigrationFailure.ConnectionFailed"/>).</exception>
    public async Task<MigrationPlan> PlanAsync(long? toVersion = null, CancellationToken cancellationToken = default)
    {
        RequireTarget(MigrationDirection.Up, toVersion); // before connecting
        var state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        SafetyChecks.RefuseUnknownVersions(_catalog, state);
        var pending = Pending(MigrationDirection.Up, state.Applied.Keys.ToHashSet(), toVersion);
        return MigrationPlanner.Plan(_catalog, pending, state.CurrentVersion, toVersion ?? _catalog.LatestVersion);
    }

    // A script has no retries (psql runs it once): its transactions wait for their locks up to the whole lock timeout.
    private string ScriptLockTimeoutSetting => Internal.LockTimeout.Setting(_options.LockTimeout);

    /// <summary>The migrations a run in <paramref name="direction"/> to <paramref name="toVersion"/> would apply or revert, in order.</summary>
    private List<KnownMigration> Pending(MigrationDirection direction, HashSet<long> applied, long? toVersion)
    {
        RequireTarget(direction, toVersion);
        var target = toVersion ?? _catalog.LatestVersion;
        return direction == MigrationDirection.Up
            ? _catalog.Migrations.Where(m => m.Version <= target && !applied.Contains(m.Version)).ToList()
            : _catalog.Migrations.Where(m => m.Version > target && applied.Contains(m.Version)).Reverse().ToList();
    }

    private void RequireTarget(MigrationDirection direction, long? toVersion)
    {
        if (direction == MigrationDirection.Down && toVersion is null)
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, "A down script needs a target version (0 reverts everything).");
        }

        RequireKnown(toVersion ?? _catalog.LatestVersion, allowZero: direction == MigrationDirection.Down);
    }

    private async Task<MigrationResult> DownToAsync(Func<DatabaseState, long> resolveTarget, CancellationToken cancellationToken)
    {
        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        var held = await MigrationLock.TakeAsync(dataSource, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        await using var lockScope = held.ConfigureAwait(false);
        var state = await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
        AlembicCoOwnership.RefuseDisagreement(_catalog, state);
        var target = resolveTarget(state);
        var revert = state.Applied.Keys.Where(v => v > target).OrderDescending().ToList();
        var unknown = revert.FirstOrDefault(v => _catalog.Find(v) is null);
        if (unknown != 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot revert version {unknown}: this build does not know it, so it has no Down step for it. The database is ahead of the code; run down from a build that includes {unknown}. Nothing was changed.");
        }

        if (!_options.AllowDataLoss)
        {
            await SafetyChecks.RefuseDataLossAsync(dataSource, _catalog, revert, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        }

        state = await BringUpToDateAsync(dataSource, state, cancellationToken).ConfigureAwait(false);
        foreach (var drifted in revert.Where(v => !SafetyChecks.Matches(_catalog.Find(v)!, state.Applied[v])))
        {
            Log.DriftOnDown(_logger, drifted);
        }

        // FluentMigrator reverts every applied version above the one given: stop at the next one down.
        var plan = revert.Select((version, i) =>
            {
                var stopAt = i + 1 < revert.Count ? revert[i + 1] : target;
                return (_catalog.Find(version)!, (Action<IMigrationRunner>)(runner => runner.MigrateDown(stopAt)));
            })
            .ToList();
        var steps = await new MigrationSteps(_connection.ConnectionString, _catalog, _options, _logger).RunAsync(MigrationDirection.Down, plan, cancellationToken).ConfigureAwait(false);
        return new MigrationResult(steps, (await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false)).CurrentVersion);
    }

    /// <summary>
    /// Once a run has passed its checks: takes over checksums earlier releases recorded (<see cref="LegacyChecksums"/>)
    /// and records in a new alembic_version the revision version_info implies, if the database has none; returns the
    /// state after that. The checks accept such a database as it is.
    /// </summary>
    private async Task<DatabaseState> BringUpToDateAsync(NpgsqlDataSource dataSource, DatabaseState state, CancellationToken cancellationToken)
    {
        var tookOver = await LegacyChecksums.TakeOverAsync(dataSource, state, _catalog, cancellationToken).ConfigureAwait(false);
        if (tookOver > 0)
        {
            Log.TookOver(_logger, tookOver);
        }

        var stamp = AlembicCoOwnership.RevisionToStamp(_catalog, state);
        if (stamp is not null)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await AlembicCoOwnership.StampAsync(connection, null, stamp, cancellationToken).ConfigureAwait(false);
            }

            Log.StampedAlembic(_logger, stamp);
        }

        return tookOver > 0 || stamp is not null ? await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false) : state;
    }

    private NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(_connection.ConnectionString);

    private async Task<DatabaseState> ReadStateAsync(CancellationToken cancellationToken)
    {
        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        return await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
    }

    private void RequireKnown(long version, bool allowZero)
    {
        if ((allowZero && version == 0) || _catalog.Find(version) is not null)
        {
            return;
        }

        throw new MigrationException(
            MigrationFailure.InvalidRequest,
            $"Unknown version {version}. Known versions: {(allowZero ? "0 (nothing applied), " : string.Empty)}{string.Join(", ", _catalog.Migrations.Select(m => m.Version))}.");
    }
}
