using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using FluentMigrator;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations;

/// <summary>
/// Applies, reverts, inspects, baselines and scripts the StatusData migrations on one PostgreSQL
/// database, with FluentMigrator's runner doing the migrating.
/// </summary>
/// <remarks>
/// <para>FluentMigrator runs every migration in its own transaction together with its version row, so
/// a failure leaves both the schema and <c>version_info</c> exactly as they were (on a database's first
/// run, the empty <c>version_info</c> table is created just before; it stays, empty, if that migration fails).
/// A refusal changes nothing: every check runs before the first write.</para>
/// <para>What FluentMigrator lacks is built on top of it. <b>A lock</b>: before FluentMigrator reads the
/// applied versions, a dedicated connection takes a transaction-scoped advisory lock
/// (<c>pg_advisory_xact_lock</c>) and holds it in an open transaction until the run ends, so any number
/// of runners (pods deploying at once) apply each migration exactly once; an open transaction pins its
/// server connection in PgBouncer's transaction mode, where a session-level lock would not hold.
/// <b>Checks</b> under that lock: drift (an applied migration whose SQL changed), versions unknown to
/// the code, tables without a version table. <b>Baseline</b> of a database something else created.</para>
/// <para>FluentMigrator's processor is synchronous: cancellation takes effect while waiting for the lock
/// and between migrations; a migration already running finishes (commit or rollback) first.</para>
/// </remarks>
public sealed partial class StatusDataMigrator
{
    /// <summary>The table that records applied versions.</summary>
    public const string VersionTable = VersionInfoTable.Name;

    /// <summary>The advisory-lock key all StatusData runners share: the ASCII bytes of "STATUSDA". Never change it: runners of different releases exclude each other only through it.</summary>
    internal const long LockKey = 0x5354_4154_5553_4441;

    // The same lock as a literal statement, for printed scripts (ScriptTests and LockTests pin both to one literal).
    private const string ScriptLockStatement = "SELECT pg_advisory_xact_lock(6004496033656292417);";

    private readonly NpgsqlConnectionStringBuilder _connection;
    private readonly MigrationCatalog _catalog;
    private readonly StatusDataMigratorOptions _options;
    private readonly ILogger _logger;

    // lock_timeout as PostgreSQL takes it: whole milliseconds, where 0 would mean "wait for ever".
    private readonly string _lockTimeoutSetting;

    /// <summary>Creates a migrator for one database.</summary>
    /// <param name="connectionString">
    /// The Npgsql connection string of a role that may change the schema. FluentMigrator connects with
    /// it as given (it takes connection strings, not data sources), plus <c>Pooling=false</c>: it opens
    /// one connection per run. Its <c>Command Timeout</c> is replaced by none: lock waits are bounded by
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
        LockTimeout.Validate(_options.LockTimeout, nameof(options));
        _lockTimeoutSetting = LockTimeout.Setting(_options.LockTimeout);
        _catalog = MigrationCatalog.Create(_options.Migrations ?? Discover(typeof(StatusDataMigrator).Assembly));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The longest <see cref="StatusDataMigratorOptions.LockTimeout"/>: PostgreSQL's lock_timeout is an int of milliseconds.</summary>
    public static TimeSpan MaxLockTimeout => LockTimeout.Max;

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
        var session = await LockedSession.OpenAsync(this, cancellationToken).ConfigureAwait(false);
        await using var sessionScope = session.ConfigureAwait(false);
        var state = await session.ReadStateAsync(cancellationToken).ConfigureAwait(false);
        RefuseUnknownVersions(state);
        RefuseAlembicDisagreement(state);
        RefuseDrift(state);
        var pending = _catalog.Migrations.Where(m => m.Version <= target && !state.Applied.ContainsKey(m.Version)).ToList();
        if (pending.Count > 0 && state.Applied.Count == 0)
        {
            // Also when version_info exists but is empty: a first migration that failed leaves it so.
            await session.RefuseUnmanagedSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        // Every check has passed: only now does anything change.
        if (pending.Count > 0 && !state.VersionTableExists)
        {
            await session.CreateVersionTableAsync(inLock: false, cancellationToken).ConfigureAwait(false);
        }

        state = await session.BringUpToDateAsync(state, cancellationToken).ConfigureAwait(false);

        var newest = state.Applied.Count == 0 ? 0 : state.Applied.Keys.Max();
        foreach (var late in pending.Where(m => m.Version < newest))
        {
            LogOutOfOrder(_logger, late.Version, newest);
        }

        var steps = await RunAsync(MigrationDirection.Up, pending.Select(m => (m, (Action<IMigrationRunner>)(runner => runner.MigrateUp(m.Version)))).ToList(), cancellationToken).ConfigureAwait(false);
        return new MigrationResult(steps, await session.CurrentVersionAsync(cancellationToken).ConfigureAwait(false));
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
        var revertedAbove = AlembicDowngradedBelow(state);
        return _catalog.Migrations
            .Select(m => state.Applied.TryGetValue(m.Version, out var row)
                ? new MigrationStatus(m.Version, m.Description, m.Version > revertedAbove ? MigrationState.RevertedByAlembic : Matches(m, row) ? MigrationState.Applied : MigrationState.ChecksumMismatch, row.AppliedOn, m.AlembicRevision)
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
        CheckAlembic(await ReadStateAsync(cancellationToken).ConfigureAwait(false));

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

        var session = await LockedSession.OpenAsync(this, cancellationToken).ConfigureAwait(false);
        await using var sessionScope = session.ConfigureAwait(false);
        var state = await session.ReadStateAsync(cancellationToken).ConfigureAwait(false);
        var target = version ?? BaselineVersionFromAlembic(state);
        RequireKnown(target, allowZero: false);
        var included = _catalog.Migrations.Where(m => m.Version <= target).ToList();
        var toRecord = included.Where(m => !state.Applied.ContainsKey(m.Version)).ToList();
        if (state.Applied.Keys.Any(v => v > target) || toRecord.Count == 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: {VersionTable} already records {state.Applied.Count} applied migration(s), up to {state.Applied.Keys.Max()}. Baseline records migrations something else applied; nothing here is left to record that way. Use 'up' or 'down'.");
        }

        var implied = included.LastOrDefault(m => m.AlembicRevision is not null)?.AlembicRevision;
        if (state.AlembicRevisions is { } revisions && !(revisions.Count == 0 ? implied is null : revisions.Count == 1 && revisions[0] == implied))
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: alembic_version says {(revisions.Count == 0 ? "base" : string.Join(", ", revisions))}, but migrations up to {target} mirror {implied ?? "no revision"}. Run 'statusdata-migrate baseline' without a version to take the one alembic_version names. Nothing was recorded.");
        }

        // All in the lock's own transaction: verify, record, and commit (which also releases the lock).
        var expected = _catalog.UpSqlInSchema(included, SchemaComparison.ScratchSchema);
        var differences = await SchemaComparison.CompareAsync(session.Connection, expected, cancellationToken).ConfigureAwait(false);
        if (differences.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"Cannot baseline at {target}: the existing schema does not match what migrations up to {target} create. Nothing was recorded. Differences:"
                + Environment.NewLine + string.Join(Environment.NewLine, differences.Select(d => "  " + d)));
        }

        await session.CreateVersionTableAsync(inLock: true, cancellationToken).ConfigureAwait(false);
        foreach (var migration in toRecord)
        {
            await VersionInfoTable.InsertAsync(session.Connection, migration.Version, migration.Description, migration.Checksum, cancellationToken).ConfigureAwait(false);
        }

        if (state.AlembicRevisions is null && implied is not null)
        {
            await session.StampAlembicAsync(implied, cancellationToken, inLock: true).ConfigureAwait(false);
        }

        await session.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogBaselined(_logger, target, toRecord.Count);
        return target;
    }

    /// <summary>
    /// The SQL that <see cref="UpAsync"/> or <see cref="DownAsync"/> would run, without a database:
    /// the plan assumes every known migration up to <paramref name="fromVersion"/> is applied.
    /// </summary>
    /// <param name="direction">Up or down.</param>
    /// <param name="fromVersion">The version the database is at; 0 for an empty database.</param>
    /// <param name="toVersion">The version to end at; for up, <see langword="null"/> means the latest.</param>
    /// <returns>A psql-runnable script, one transaction per migration.</returns>
    public string Script(MigrationDirection direction, long fromVersion, long? toVersion)
    {
        RequireKnown(fromVersion, allowZero: true);
        var applied = _catalog.Migrations.Where(m => m.Version <= fromVersion).Select(m => m.Version).ToHashSet();
        return RenderScript(direction, applied, toVersion);
    }

    /// <summary>The SQL that <see cref="UpAsync"/> or <see cref="DownAsync"/> would run now, read from the database's applied versions. Changes nothing.</summary>
    /// <param name="direction">Up or down.</param>
    /// <param name="toVersion">The version to end at; for up, <see langword="null"/> means the latest.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>A psql-runnable script, one transaction per migration.</returns>
    public async Task<string> ScriptAsync(MigrationDirection direction, long? toVersion, CancellationToken cancellationToken = default)
    {
        RequireTarget(direction, toVersion); // before connecting
        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        var state = await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
        RefuseUnknownVersions(state);
        return RenderScript(direction, state.Applied.Keys.ToHashSet(), toVersion);
    }

    private void RequireTarget(MigrationDirection direction, long? toVersion)
    {
        if (direction == MigrationDirection.Down && toVersion is null)
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, "A down script needs a target version (0 reverts everything).");
        }

        RequireKnown(toVersion ?? _catalog.LatestVersion, allowZero: direction == MigrationDirection.Down);
    }

    private string RenderScript(MigrationDirection direction, HashSet<long> applied, long? toVersion)
    {
        RequireTarget(direction, toVersion);
        var target = toVersion ?? _catalog.LatestVersion;
        var plan = direction == MigrationDirection.Up
            ? _catalog.Migrations.Where(m => m.Version <= target && !applied.Contains(m.Version)).ToList()
            : _catalog.Migrations.Where(m => m.Version > target && applied.Contains(m.Version)).Reverse().ToList();

        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"-- statusdata-migrate script {direction.ToString().ToLowerInvariant()} to {target}: {plan.Count} migration(s).\n");
        script.Append("-- The SQL is FluentMigrator's; review, then run with: psql -v ON_ERROR_STOP=1 -f <this file>\n");
        if (direction == MigrationDirection.Up && plan.Count > 0)
        {
            script.Append('\n').Append(VersionInfoTable.CreateSql).Append(";\n");
        }

        foreach (var (migration, statements) in _catalog.Script(direction, plan))
        {
            script.Append(CultureInfo.InvariantCulture, $"\n-- {migration.Version}: {migration.Description}\n");
            if (direction == MigrationDirection.Down && DataLoss.OfDown(migration.Migration) is { Count: > 0 } destroys)
            {
                script.Append(CultureInfo.InvariantCulture, $"-- DESTROYS DATA: {string.Join("; ", destroys)}; whatever it holds is lost.\n");
            }

            script.Append("BEGIN;\n");
            script.Append(CultureInfo.InvariantCulture, $"SET LOCAL lock_timeout = '{_lockTimeoutSetting}';\n");
            script.Append(ScriptLockStatement).Append('\n');
            foreach (var statement in statements)
            {
                script.Append(statement).Append(";\n");
            }

            script.Append("COMMIT;\n");
        }

        return script.ToString();
    }

    private async Task<MigrationResult> DownToAsync(Func<DatabaseState, long> resolveTarget, CancellationToken cancellationToken)
    {
        var session = await LockedSession.OpenAsync(this, cancellationToken).ConfigureAwait(false);
        await using var sessionScope = session.ConfigureAwait(false);
        var state = await session.ReadStateAsync(cancellationToken).ConfigureAwait(false);
        RefuseAlembicDisagreement(state);
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
            await RefuseDataLossAsync(session, revert, cancellationToken).ConfigureAwait(false);
        }

        state = await session.BringUpToDateAsync(state, cancellationToken).ConfigureAwait(false);

        foreach (var drifted in revert.Where(v => !Matches(_catalog.Find(v)!, state.Applied[v])))
        {
            LogDriftOnDown(_logger, drifted);
        }

        // FluentMigrator reverts every applied version above the one given: stop at the next one down.
        var plan = revert.Select((version, i) =>
            {
                var stopAt = i + 1 < revert.Count ? revert[i + 1] : target;
                return (_catalog.Find(version)!, (Action<IMigrationRunner>)(runner => runner.MigrateDown(stopAt)));
            })
            .ToList();
        var steps = await RunAsync(MigrationDirection.Down, plan, cancellationToken).ConfigureAwait(false);
        return new MigrationResult(steps, await session.CurrentVersionAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Refuses a run whose Down steps would drop tables or columns that hold data, naming each with its count,
    /// before anything changes. The counts are taken under the migration lock, just before the run; rows the apps
    /// write between the count and the DROP are not counted (the window is the time to the step).
    /// </summary>
    private async Task RefuseDataLossAsync(LockedSession session, IReadOnlyList<long> revert, CancellationToken cancellationToken)
    {
        // On a connection of its own, in autocommit: the lock's transaction must not keep the tables' locks.
        var connection = await ServerConnection.OpenAsync(session.DataSource, cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        using (var setting = new NpgsqlCommand("SELECT set_config('lock_timeout', $1, false)", connection))
        {
            setting.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _lockTimeoutSetting });
            await setting.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var atStake = new List<string>();
        foreach (var version in revert)
        {
            var migration = _catalog.Find(version)!;
            List<string> lost;
            try
            {
                lost = await DataLoss.AtStakeAsync(connection, DataLoss.OfDown(migration.Migration), cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                throw new MigrationException(
                    MigrationFailure.LockTimeout,
                    $"Timed out after {_options.LockTimeout.TotalSeconds:0.#}s waiting for a lock to count the rows that reverting {version} would drop: a long transaction holds a table. Nothing was changed; run again when it has finished, or raise the lock timeout.",
                    e);
            }

            if (lost.Count > 0)
            {
                atStake.Add($"{version} ({migration.Description}): {string.Join("; ", lost)}");
            }
        }

        if (atStake.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                "Reverting would destroy data, so nothing was changed. "
                + string.Join(" ", atStake.Select(step => step.EndsWith('.') ? step : step + "."))
                + " Back the data up first; to revert anyway, run again with --allow-data-loss (API: StatusDataMigratorOptions.AllowDataLoss).");
        }
    }

    /// <summary>
    /// Runs each step with FluentMigrator's runner, one migration at a time, after the lock is taken: its
    /// own connection, its log lines forwarded at Debug level, on a worker thread (it is synchronous).
    /// </summary>
    private async Task<List<MigrationStep>> RunAsync(MigrationDirection direction, List<(KnownMigration Migration, Action<IMigrationRunner> Step)> plan, CancellationToken cancellationToken)
    {
        var steps = new List<MigrationStep>();
        if (plan.Count == 0)
        {
            return steps;
        }

        var connection = new NpgsqlConnectionStringBuilder(_connection.ConnectionString) { Pooling = false };
        using var services = FluentMigratorServices.Build(
            _catalog.Migrations.Select(m => m.Migration).ToList(), connection.ConnectionString, _catalog.ByVersion, _lockTimeoutSetting, new ForwardingLoggerProvider(_logger));
        using var scope = services.CreateScope();
        var runner = scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        foreach (var (migration, step) in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (direction == MigrationDirection.Up ? LogApplying : (Action<ILogger, long, string>)LogReverting)(_logger, migration.Version, migration.Description);
            var stopwatch = Stopwatch.StartNew();
            try
            {
                await Task.Run(() => step(runner), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not MigrationException)
            {
                throw Failure(migration, direction, e);
            }

            steps.Add(new MigrationStep(migration.Version, migration.Description, direction, stopwatch.Elapsed));
            (direction == MigrationDirection.Up ? LogApplied : (Action<ILogger, long, long>)LogReverted)(_logger, migration.Version, stopwatch.ElapsedMilliseconds);
        }

        return steps;
    }

    private NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(_connection.ConnectionString);

    private static bool Matches(KnownMigration migration, AppliedRow row) =>
        row.Checksum == migration.Checksum || LegacyChecksums.Matches(migration.Version, row.Checksum);

    private long BaselineVersionFromAlembic(DatabaseState state)
    {
        if (state.AlembicRevisions is [var revision] && _catalog.FindByAlembicRevision(revision) is { } mirror)
        {
            return mirror.Version;
        }

        throw new MigrationException(
            MigrationFailure.InvalidRequest,
            state.AlembicRevisions is null or []
                ? "Cannot baseline without a version: the database has no Alembic revision to take it from. Give the version to baseline at, e.g. 'statusdata-migrate baseline 202602282200'."
                : $"Cannot baseline without a version: alembic_version says {string.Join(", ", state.AlembicRevisions)}, which no migration of this build mirrors. Deploy a build that mirrors it, or give the version.");
    }

    private async Task<DatabaseState> ReadStateAsync(CancellationToken cancellationToken)
    {
        var dataSource = CreateDataSource();
        await using var dataSourceScope = dataSource.ConfigureAwait(false);
        return await DatabaseState.ReadAsync(dataSource, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest applied migration that mirrors an Alembic revision: what alembic_version should say.</summary>
    private KnownMigration? ExpectedAlembicMigration(DatabaseState state) =>
        _catalog.Migrations.LastOrDefault(m => m.AlembicRevision is not null && state.Applied.ContainsKey(m.Version));

    /// <summary>
    /// When Alembic was downgraded behind our back: the version at or below which the record still holds
    /// (that of the migration mirroring the database's revision, 0 at base); <see cref="long.MaxValue"/> otherwise.
    /// </summary>
    private long AlembicDowngradedBelow(DatabaseState state)
    {
        var expected = ExpectedAlembicMigration(state);
        if (expected is null || state.AlembicRevisions is not { Count: <= 1 } revisions)
        {
            return long.MaxValue;
        }

        var actual = revisions.Count == 0 ? null : _catalog.FindByAlembicRevision(revisions[0]);
        return revisions.Count == 0 || (actual is not null && actual.Version < expected.Version) ? actual?.Version ?? 0 : long.MaxValue;
    }

    private AlembicStatus CheckAlembic(DatabaseState state)
    {
        var expected = ExpectedAlembicMigration(state);
        var revisions = state.AlembicRevisions ?? [];
        var status = new AlembicStatus(state.AlembicRevisions is not null, revisions, expected?.AlembicRevision, null);

        // No alembic_version table: Alembic was never run here (or the database predates mirroring); the next
        // locked run records the expected revision, so that is not a disagreement.
        if (state.AlembicRevisions is null || (revisions.Count == 0 && expected is null) || (revisions.Count == 1 && revisions[0] == expected?.AlembicRevision))
        {
            return status;
        }

        var said = $"alembic_version says {(revisions.Count == 0 ? "base (no revision)" : string.Join(", ", revisions))}, but version_info implies {(expected is null ? "base" : $"{expected.AlembicRevision} (migration {expected.Version})")}";
        var actual = revisions.Count == 1 ? _catalog.FindByAlembicRevision(revisions[0]) : null;
        string problem;
        if (revisions.Count > 1)
        {
            problem = $"{said}: the Python side has several Alembic heads, and StatusData mirrors one line of revisions. Merge them on the Python side (alembic merge) and mirror the merge revision in a migration.";
        }
        else if (revisions.Count == 1 && actual is null)
        {
            problem = $"{said}: {revisions[0]} is an Alembic revision no migration of this build mirrors, so the Python side changed the schema in a way this build does not know. Deploy a build with a migration marked [MirrorsAlembicRevision(\"{revisions[0]}\")], then run up.";
        }
        else if (AlembicDowngradedBelow(state) is var below and not long.MaxValue)
        {
            problem = $"{said}: the Python side has downgraded, so what migrations after {(below == 0 ? "none" : below.ToString(CultureInfo.InvariantCulture))} created is probably gone although version_info records them. "
                + $"Either bring Alembic back (alembic upgrade {expected!.AlembicRevision}), or, if the downgrade was meant, remove the stale records so that up recreates the schema: DELETE FROM version_info WHERE version > {below};";
        }
        else
        {
            problem = $"{said}: the Python side applied {revisions[0]} (mirrored by migration {actual!.Version}) first. Adopt it with 'statusdata-migrate baseline' (the same as 'baseline {actual.Version}'): it verifies the schema and records the migrations up to {actual.Version} without running them; then run up.";
        }

        return status with { Disagreement = problem };
    }

    private void RefuseAlembicDisagreement(DatabaseState state)
    {
        if (CheckAlembic(state).Disagreement is { } problem)
        {
            throw new MigrationException(MigrationFailure.Refused, problem + " Nothing was changed.");
        }
    }

    private void RefuseUnknownVersions(DatabaseState state)
    {
        var unknown = state.Applied.Keys.Where(v => _catalog.Find(v) is null).Order().ToList();
        if (unknown.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"The database has applied version(s) {string.Join(", ", unknown)} that this build does not know (it knows up to {_catalog.LatestVersion}): the database is ahead of the code. Deploy a build that includes them. Nothing was changed.");
        }
    }

    private void RefuseDrift(DatabaseState state)
    {
        var drifted = _catalog.Migrations
            .Where(m => state.Applied.TryGetValue(m.Version, out var row) && !Matches(m, row))
            .ToList();
        if (drifted.Count == 0)
        {
            return;
        }

        var list = string.Join(", ", drifted.Select(m => $"{m.Version} ({m.Description})"));
        if (_options.AllowChecksumMismatch)
        {
            LogDriftAllowed(_logger, list);
            return;
        }

        throw new MigrationException(
            MigrationFailure.Refused,
            $"Applied migration(s) {list} changed in the code after they were applied (checksum mismatch). Restore them and put the change in a new migration; if the change is known to be harmless, run with --allow-drift. Nothing was changed.");
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

    [LoggerMessage(1, LogLevel.Information, "Applying migration {Version}: {Description}")]
    private static partial void LogApplying(ILogger logger, long version, string description);

    [LoggerMessage(2, LogLevel.Information, "Applied migration {Version} in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, long version, long elapsedMs);

    [LoggerMessage(3, LogLevel.Information, "Reverting migration {Version}: {Description}")]
    private static partial void LogReverting(ILogger logger, long version, string description);

    [LoggerMessage(4, LogLevel.Information, "Reverted migration {Version} in {ElapsedMs} ms")]
    private static partial void LogReverted(ILogger logger, long version, long elapsedMs);

    [LoggerMessage(5, LogLevel.Warning, "Applying migration {Version} out of order: {Newest} is already applied")]
    private static partial void LogOutOfOrder(ILogger logger, long version, long newest);

    [LoggerMessage(6, LogLevel.Warning, "Checksum mismatch allowed for applied migration(s) {Migrations}")]
    private static partial void LogDriftAllowed(ILogger logger, string migrations);

    [LoggerMessage(7, LogLevel.Warning, "Migration {Version} changed after it was applied; reverting it with the Down step of the current code")]
    private static partial void LogDriftOnDown(ILogger logger, long version);

    [LoggerMessage(8, LogLevel.Information, "Baselined at {Version}: recorded {Count} migration(s) as applied without running them")]
    private static partial void LogBaselined(ILogger logger, long version, int count);

    [LoggerMessage(9, LogLevel.Information, "Took over version_info from the runner before FluentMigrator: {Count} checksum(s) rewritten")]
    private static partial void LogTookOver(ILogger logger, int count);

    [LoggerMessage(11, LogLevel.Information, "Recorded Alembic revision {Revision} in a new alembic_version table, as version_info implies")]
    private static partial void LogStampedAlembic(ILogger logger, string revision);

    [LoggerMessage(10, LogLevel.Debug, "FluentMigrator: {Message}")]
    private static partial void LogFluentMigrator(ILogger logger, string message);

    /// <summary>FluentMigrator's log lines, its SQL among them, to our logger at Debug level.</summary>
    private sealed class ForwardingLoggerProvider(ILogger logger) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logger.IsEnabled(LogLevel.Debug);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            LogFluentMigrator(logger, formatter(state, exception));

        public void Dispose()
        {
        }
    }

    private static MigrationException Failure(KnownMigration migration, MigrationDirection direction, Exception e)
    {
        var inner = e;
        while (inner is not null and not NpgsqlException)
        {
            inner = inner.InnerException;
        }

        var postgres = inner as PostgresException;
        var cause = postgres is null ? (inner ?? e).Message.TrimEnd('.') : $"{postgres.SqlState} {postgres.MessageText}";
        var statement = postgres?.BatchCommand?.CommandText is { } sql ? $" Statement:{Environment.NewLine}{sql}" : string.Empty;
        return new MigrationException(
            postgres?.SqlState == PostgresErrorCodes.LockNotAvailable ? MigrationFailure.LockTimeout : MigrationFailure.MigrationFailed,
            $"Migration {migration.Version} ({migration.Description}) failed going {direction.ToString().ToLowerInvariant()}: {cause}. Its transaction was rolled back: the schema and {VersionTable} are as they were before it.{statement}",
            e);
    }

    /// <summary>
    /// The migration lock, held for a whole run: a dedicated connection with an open READ COMMITTED
    /// transaction that took <c>pg_advisory_xact_lock</c>. The state is read on other connections (so the
    /// lock's transaction holds no table locks), and always after the lock, so a runner that waited sees
    /// what the previous holder committed.
    /// </summary>
    private sealed class LockedSession : IAsyncDisposable
    {
        private readonly StatusDataMigrator _owner;
        private readonly NpgsqlDataSource _dataSource;
        private NpgsqlConnection? _connection;
        private NpgsqlTransaction? _transaction;

        private LockedSession(StatusDataMigrator owner)
        {
            _owner = owner;
            _dataSource = owner.CreateDataSource();
        }

        public NpgsqlConnection Connection => _connection!;

        /// <summary>For reads beside the lock, which must not run in its transaction (they would keep table locks until the run ends).</summary>
        public NpgsqlDataSource DataSource => _dataSource;

        public static async Task<LockedSession> OpenAsync(StatusDataMigrator owner, CancellationToken cancellationToken)
        {
            var session = new LockedSession(owner);
            try
            {
                await session.LockAsync(cancellationToken).ConfigureAwait(false);
                return session;
            }
            catch
            {
                await session.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public Task<DatabaseState> ReadStateAsync(CancellationToken cancellationToken) => DatabaseState.ReadAsync(_dataSource, cancellationToken);

        /// <summary>
        /// Once a run has passed its checks: brings a database the runner before FluentMigrator migrated up
        /// to date (its checksums rewritten, the Alembic revision it implies recorded if it has no
        /// alembic_version) and returns the state after that. The checks accept such a database as it is.
        /// </summary>
        public async Task<DatabaseState> BringUpToDateAsync(DatabaseState state, CancellationToken cancellationToken)
        {
            var tookOver = await LegacyChecksums.TakeOverAsync(_dataSource, state, _owner._catalog, cancellationToken).ConfigureAwait(false);
            if (tookOver > 0)
            {
                LogTookOver(_owner._logger, tookOver);
            }

            var stamp = state.AlembicRevisions is null ? _owner.ExpectedAlembicMigration(state)?.AlembicRevision : null;
            if (stamp is not null)
            {
                await StampAlembicAsync(stamp, cancellationToken).ConfigureAwait(false);
                LogStampedAlembic(_owner._logger, stamp);
            }

            return tookOver > 0 || stamp is not null ? await DatabaseState.ReadAsync(_dataSource, cancellationToken).ConfigureAwait(false) : state;
        }

        /// <summary>Creates alembic_version and records <paramref name="revision"/>, in the lock's transaction if <paramref name="inLock"/>.</summary>
        public async Task StampAlembicAsync(string revision, CancellationToken cancellationToken, bool inLock = false)
        {
            var connection = inLock ? _connection! : await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var batch = new NpgsqlBatch(connection)
                {
                    BatchCommands =
                    {
                        new NpgsqlBatchCommand(AlembicVersionTable.CreateSql),
                        new NpgsqlBatchCommand("INSERT INTO alembic_version (version_num) VALUES ($1)") { Parameters = { new NpgsqlParameter<string> { TypedValue = revision } } },
                    },
                };

                // A batch without a transaction runs as one implicit transaction.
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (!inLock)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        public async Task<long> CurrentVersionAsync(CancellationToken cancellationToken)
        {
            var state = await DatabaseState.ReadAsync(_dataSource, cancellationToken).ConfigureAwait(false);
            return state.Applied.Count == 0 ? 0 : state.Applied.Keys.Max();
        }

        /// <summary>
        /// Creates <c>version_info</c> if missing: in the lock's transaction if <paramref name="inLock"/> (it takes
        /// effect at <see cref="CommitAsync"/>), else in one of its own, committed at once.
        /// </summary>
        public async Task CreateVersionTableAsync(bool inLock, CancellationToken cancellationToken)
        {
            using var command = inLock ? new NpgsqlCommand(VersionInfoTable.CreateSql, _connection, _transaction) : _dataSource.CreateCommand(VersionInfoTable.CreateSql);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public async Task RefuseUnmanagedSchemaAsync(CancellationToken cancellationToken)
        {
            const string sql = """
                SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname NOT IN ('version_info', 'alembic_version')
                """;
            using var command = _dataSource.CreateCommand(sql);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string tables)
            {
                throw new MigrationException(
                    MigrationFailure.Refused,
                    $"The database already has tables ({tables}) but {VersionTable} records no migration, so no runner has managed it. "
                    + "If the Python side's Alembic created it, adopt it with 'statusdata-migrate baseline 202602282200' (Alembic revision a1b2c3d4e5f6), which verifies the schema first. Nothing was changed.");
            }
        }

        public Task CommitAsync(CancellationToken cancellationToken) => _transaction!.CommitAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (_transaction is not null)
            {
                await _transaction.DisposeAsync().ConfigureAwait(false);
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }

            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }

        private async Task LockAsync(CancellationToken cancellationToken)
        {
            _connection = await ServerConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);

            // READ COMMITTED explicitly: a database defaulting to REPEATABLE READ or SERIALIZABLE would otherwise
            // give the baseline, which reads in this transaction, a snapshot from before the previous holder committed.
            _transaction = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            using var command = new NpgsqlCommand("SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)", _connection, _transaction);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _owner._lockTimeoutSetting });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                var holder = await DescribeLockHolderAsync(cancellationToken).ConfigureAwait(false);
                throw new MigrationException(
                    MigrationFailure.LockTimeout,
                    $"Timed out after {_owner._options.LockTimeout.TotalSeconds:0.#}s waiting for the migration lock, held by {holder}. Another runner is probably migrating this database: wait for it to finish and run again, or raise the lock timeout. Nothing was changed.",
                    e);
            }
        }

        private async Task<string> DescribeLockHolderAsync(CancellationToken cancellationToken)
        {
            const string sql = """
                SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), coalesce(host(a.client_addr), 'local'), a.xact_start
                FROM pg_locks l
                JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid AND l.objsubid = 1
                LIMIT 1
                """;
            try
            {
                using var command = _dataSource.CreateCommand(sql);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
                using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var since = reader.IsDBNull(3) ? "?" : reader.GetDateTime(3).ToString("u", CultureInfo.InvariantCulture);
                    return $"backend pid {reader.GetInt32(0)} (application '{reader.GetString(1)}', client {reader.GetString(2)}, transaction started {since})";
                }

                return "a session that released it just now";
            }
            catch (NpgsqlException)
            {
                return "another session (its details could not be read)";
            }
        }
    }
}
