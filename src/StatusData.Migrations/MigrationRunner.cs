using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace StatusData.Migrations;

/// <summary>
/// Applies, reverts, inspects and scripts migrations against one PostgreSQL database.
/// </summary>
/// <remarks>
/// <para>Every migration runs in its own transaction together with its version-table row, so a
/// failure leaves both the schema and the version table exactly as they were.</para>
/// <para>Runners serialize on a transaction-scoped advisory lock (<c>pg_advisory_xact_lock</c>) taken at
/// the start of each of those transactions, and re-read the applied versions after taking it, so any
/// number of runners (pods deploying at once) apply each migration exactly once. Transaction-scoped
/// locks are released by COMMIT or ROLLBACK, which is what makes this safe through PgBouncer in
/// transaction mode, where a session-level lock could stay behind on a pooled server connection.</para>
/// </remarks>
public sealed partial class MigrationRunner
{
    /// <summary>The table that records applied versions, with FluentMigrator's columns in snake_case.</summary>
    public const string VersionTable = "version_info";

    /// <summary>The advisory-lock key all StatusData runners share: the ASCII bytes of "STATUSDA".</summary>
    internal const long LockKey = 0x5354_4154_5553_4441;

    private const string CreateVersionTableSql = """
        CREATE TABLE IF NOT EXISTS version_info (
            version bigint NOT NULL,
            applied_on timestamp with time zone NOT NULL,
            description character varying(1024) NOT NULL,
            checksum character(64) NOT NULL,
            CONSTRAINT version_info_pkey PRIMARY KEY (version)
        )
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly MigrationCatalog _catalog;
    private readonly MigrationRunnerOptions _options;
    private readonly ILogger _logger;

    // lock_timeout as PostgreSQL takes it: whole milliseconds, where 0 would mean "wait for ever".
    private readonly string _lockTimeoutSetting;

    /// <summary>Creates a runner over a data source the caller owns.</summary>
    /// <param name="dataSource">The database to migrate. The runner opens and closes its own connections.</param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where progress goes; <see langword="null"/> for none.</param>
    public MigrationRunner(NpgsqlDataSource dataSource, MigrationRunnerOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _options = options ?? new MigrationRunnerOptions();
        if (_options.LockTimeout <= TimeSpan.Zero || _options.LockTimeout > MaxLockTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.LockTimeout, "LockTimeout must be positive and at most 2147483647 ms (about 24.8 days), the most PostgreSQL's lock_timeout accepts.");
        }

        // Rounded up: a sub-millisecond timeout truncated to 0 would disable the timeout altogether.
        _lockTimeoutSetting = string.Create(CultureInfo.InvariantCulture, $"{(long)Math.Ceiling(_options.LockTimeout.TotalMilliseconds)}ms");

        _catalog = MigrationCatalog.Create(_options.Migrations ?? Discover(typeof(MigrationRunner).Assembly));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The longest <see cref="MigrationRunnerOptions.LockTimeout"/>: PostgreSQL's lock_timeout is an int of milliseconds.</summary>
    public static TimeSpan MaxLockTimeout { get; } = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>The newest version this runner knows.</summary>
    public long LatestVersion => _catalog.LatestVersion;

    /// <summary>Finds every concrete <see cref="Migration"/> with a <see cref="MigrationAttribute"/> in an assembly.</summary>
    /// <param name="assembly">The assembly to scan.</param>
    /// <returns>One instance of each migration, in no particular order.</returns>
    public static IReadOnlyList<Migration> Discover(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return MigrationCatalog.Discover(assembly);
    }

    /// <summary>Applies pending migrations up to <paramref name="targetVersion"/>, or all of them.</summary>
    /// <param name="targetVersion">The last version to apply; <see langword="null"/> for the latest.</param>
    /// <param name="cancellationToken">Cancels the run; the migration in flight is rolled back.</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, or a safety check refused.</exception>
    public async Task<MigrationResult> UpAsync(long? targetVersion = null, CancellationToken cancellationToken = default)
    {
        var target = targetVersion ?? _catalog.LatestVersion;
        RequireKnown(target, allowZero: false);
        var steps = new List<MigrationStep>();
        while (true)
        {
            var stopwatch = Stopwatch.StartNew();
            var applied = await InLockedTransactionAsync(
                async (connection, state) =>
                {
                    RefuseUnknownVersions(state);
                    RefuseDrift(state);
                    var next = _catalog.Migrations.FirstOrDefault(m => m.Version <= target && !state.Applied.ContainsKey(m.Version));
                    if (next is null)
                    {
                        return null;
                    }

                    if (!state.VersionTableExists)
                    {
                        await RefuseUnmanagedSchemaAsync(connection, cancellationToken).ConfigureAwait(false);
                        await ExecuteAsync(connection, CreateVersionTableSql, cancellationToken).ConfigureAwait(false);
                    }

                    if (state.Applied.Count > 0 && next.Version < state.Applied.Keys.Max())
                    {
                        LogOutOfOrder(_logger, next.Version, state.Applied.Keys.Max());
                    }

                    LogApplying(_logger, next.Version, next.Description);
                    await RunStatementsAsync(connection, next, MigrationDirection.Up, cancellationToken).ConfigureAwait(false);
                    await RecordAppliedAsync(connection, next, cancellationToken).ConfigureAwait(false);
                    return next;
                },
                cancellationToken).ConfigureAwait(false);

            if (applied is null)
            {
                break;
            }

            steps.Add(new MigrationStep(applied.Version, applied.Description, MigrationDirection.Up, stopwatch.Elapsed));
            LogApplied(_logger, applied.Version, stopwatch.ElapsedMilliseconds);
        }

        return await ResultAsync(steps, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reverts applied migrations newer than <paramref name="targetVersion"/>, newest first.</summary>
    /// <param name="targetVersion">The version to end at; 0 reverts everything.</param>
    /// <param name="cancellationToken">Cancels the run; the migration in flight is rolled back.</param>
    /// <returns>What was reverted. Running it again is a no-op: down is idempotent.</returns>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, or a version to revert is unknown to the code.</exception>
    public async Task<MigrationResult> DownAsync(long targetVersion, CancellationToken cancellationToken = default)
    {
        RequireKnown(targetVersion, allowZero: true);
        return await DownToAsync(_ => targetVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reverts the last <paramref name="steps"/> applied migrations.</summary>
    /// <param name="steps">How many to revert; at least 1.</param>
    /// <param name="cancellationToken">Cancels the run; the migration in flight is rolled back.</param>
    /// <returns>What was reverted.</returns>
    /// <remarks>The target is resolved once, under the lock, from the versions applied at that moment.
    /// Pipelines that may run concurrently should prefer <see cref="DownAsync"/>, which is idempotent.</remarks>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, or a version to revert is unknown to the code.</exception>
    public async Task<MigrationResult> RollbackAsync(int steps = 1, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        long? resolved = null;
        return await DownToAsync(
            state => resolved ??= state.Applied.Keys.OrderDescending().Skip(steps).FirstOrDefault(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists every known migration and every applied one, with its state and applied-on time.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The migrations ascending by version.</returns>
    public async Task<IReadOnlyList<MigrationStatus>> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var state = await ReadStateAsync(connection, cancellationToken).ConfigureAwait(false);
        var statuses = _catalog.Migrations
            .Select(m => state.Applied.TryGetValue(m.Version, out var row)
                ? new MigrationStatus(m.Version, m.Description, row.Checksum == m.Checksum ? MigrationState.Applied : MigrationState.ChecksumMismatch, row.AppliedOn)
                : new MigrationStatus(m.Version, m.Description, MigrationState.Pending, null))
            .Concat(state.Applied.Values
                .Where(row => _catalog.Find(row.Version) is null)
                .Select(row => new MigrationStatus(row.Version, row.Description, MigrationState.UnknownToCode, row.AppliedOn)))
            .OrderBy(s => s.Version)
            .ToList();
        return statuses;
    }

    /// <summary>
    /// Records every migration up to <paramref name="version"/> as applied without running it, for a
    /// database whose schema something else created (the Python side's Alembic, or a restore).
    /// Refuses unless the existing schema matches, fact by fact in the catalog, what those migrations create.
    /// </summary>
    /// <param name="version">A known version, e.g. 202602282200 for Alembic's <c>a1b2c3d4e5f6</c>.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="MigrationException">The schema does not match, versions are already recorded, or the lock wait timed out.</exception>
    public async Task BaselineAsync(long version, CancellationToken cancellationToken = default)
    {
        RequireKnown(version, allowZero: false);
        var included = _catalog.Migrations.Where(m => m.Version <= version).ToList();
        await InLockedTransactionAsync<object?>(
            async (connection, state) =>
            {
                if (state.Applied.Count > 0)
                {
                    throw new MigrationException(
                        MigrationFailure.Refused,
                        $"Cannot baseline: {VersionTable} already records {state.Applied.Count} applied migration(s), up to {state.Applied.Keys.Max()}. Baseline is only for databases no runner has managed yet; use 'up' or 'down' here.");
                }

                var differences = await SchemaComparison.CompareAsync(connection, included, cancellationToken).ConfigureAwait(false);
                if (differences.Count > 0)
                {
                    throw new MigrationException(
                        MigrationFailure.Refused,
                        $"Cannot baseline at {version}: the existing schema does not match what migrations up to {version} create. Nothing was recorded. Differences:"
                        + Environment.NewLine + string.Join(Environment.NewLine, differences.Select(d => "  " + d)));
                }

                await ExecuteAsync(connection, CreateVersionTableSql, cancellationToken).ConfigureAwait(false);
                foreach (var migration in included)
                {
                    await RecordAppliedAsync(connection, migration, cancellationToken).ConfigureAwait(false);
                }

                LogBaselined(_logger, version, included.Count);
                return null;
            },
            cancellationToken).ConfigureAwait(false);
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
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var state = await ReadStateAsync(connection, cancellationToken).ConfigureAwait(false);
        RefuseUnknownVersions(state);
        return RenderScript(direction, state.Applied.Keys.ToHashSet(), toVersion);
    }

    private string RenderScript(MigrationDirection direction, HashSet<long> applied, long? toVersion)
    {
        if (direction == MigrationDirection.Down && toVersion is null)
        {
            throw new MigrationException(MigrationFailure.InvalidRequest, "A down script needs a target version (0 reverts everything).");
        }

        var target = toVersion ?? _catalog.LatestVersion;
        RequireKnown(target, allowZero: direction == MigrationDirection.Down);
        var plan = direction == MigrationDirection.Up
            ? _catalog.Migrations.Where(m => m.Version <= target && !applied.Contains(m.Version)).ToList()
            : _catalog.Migrations.Where(m => m.Version > target && applied.Contains(m.Version)).Reverse().ToList();

        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"-- statusdata-migrate script {direction.ToString().ToLowerInvariant()} to {target}: {plan.Count} migration(s).\n");
        script.Append("-- Review, then run with: psql -v ON_ERROR_STOP=1 -f <this file>\n");
        if (direction == MigrationDirection.Up && plan.Count > 0)
        {
            script.Append('\n').Append(CreateVersionTableSql).Append(";\n");
        }

        foreach (var migration in plan)
        {
            script.Append(CultureInfo.InvariantCulture, $"\n-- {migration.Version}: {migration.Description}\nBEGIN;\n");
            script.Append(CultureInfo.InvariantCulture, $"SET LOCAL lock_timeout = '{_lockTimeoutSetting}';\n");
            script.Append(CultureInfo.InvariantCulture, $"SELECT pg_advisory_xact_lock({LockKey});\n");
            var statements = direction == MigrationDirection.Up ? migration.UpStatements : migration.DownStatements;
            foreach (var statement in statements)
            {
                script.Append(statement).Append(";\n");
            }

            script.Append(direction == MigrationDirection.Up
                ? string.Create(CultureInfo.InvariantCulture, $"INSERT INTO version_info (version, applied_on, description, checksum) VALUES ({migration.Version}, now(), {QuoteLiteral(migration.Description)}, '{migration.Checksum}');\n")
                : string.Create(CultureInfo.InvariantCulture, $"DELETE FROM version_info WHERE version = {migration.Version};\n"));
            script.Append("COMMIT;\n");
        }

        return script.ToString();
    }

    // Only for the human-readable script; the runner itself always binds parameters.
    private static string QuoteLiteral(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private async Task<MigrationResult> DownToAsync(Func<DatabaseState, long> resolveTarget, CancellationToken cancellationToken)
    {
        var steps = new List<MigrationStep>();
        while (true)
        {
            var stopwatch = Stopwatch.StartNew();
            var reverted = await InLockedTransactionAsync(
                async (connection, state) =>
                {
                    var target = resolveTarget(state);
                    var newest = state.Applied.Keys.Where(v => v > target).DefaultIfEmpty().Max();
                    if (newest == 0)
                    {
                        return null;
                    }

                    var migration = _catalog.Find(newest) ?? throw new MigrationException(
                        MigrationFailure.Refused,
                        $"Cannot revert version {newest}: this build does not know it, so it has no Down step for it. The database is ahead of the code; run down from a build that includes {newest}.");
                    if (state.Applied[newest].Checksum != migration.Checksum)
                    {
                        LogDriftOnDown(_logger, newest);
                    }

                    LogReverting(_logger, migration.Version, migration.Description);
                    await RunStatementsAsync(connection, migration, MigrationDirection.Down, cancellationToken).ConfigureAwait(false);
                    using var delete = new NpgsqlCommand("DELETE FROM version_info WHERE version = $1", connection);
                    delete.Parameters.Add(new NpgsqlParameter<long> { TypedValue = migration.Version });
                    await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    return migration;
                },
                cancellationToken).ConfigureAwait(false);

            if (reverted is null)
            {
                break;
            }

            steps.Add(new MigrationStep(reverted.Version, reverted.Description, MigrationDirection.Down, stopwatch.Elapsed));
            LogReverted(_logger, reverted.Version, stopwatch.ElapsedMilliseconds);
        }

        return await ResultAsync(steps, cancellationToken).ConfigureAwait(false);
    }

    private static async Task RecordAppliedAsync(NpgsqlConnection connection, KnownMigration migration, CancellationToken cancellationToken)
    {
        using var insert = new NpgsqlCommand(
            "INSERT INTO version_info (version, applied_on, description, checksum) VALUES ($1, now(), $2, $3)",
            connection);
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = migration.Version });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Description });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Checksum });
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<MigrationResult> ResultAsync(List<MigrationStep> steps, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var state = await ReadStateAsync(connection, cancellationToken).ConfigureAwait(false);
        return new MigrationResult(steps, state.Applied.Count == 0 ? 0 : state.Applied.Keys.Max());
    }

    /// <summary>Runs <paramref name="work"/> in a transaction that holds the migration lock, with the state read after taking it.</summary>
    private async Task<T> InLockedTransactionAsync<T>(Func<NpgsqlConnection, DatabaseState, Task<T>> work, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        // READ COMMITTED explicitly: the state read after taking the lock must see what the previous
        // holder committed, which a REPEATABLE READ / SERIALIZABLE snapshot taken earlier would not.
        var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        using (var lockCommand = new NpgsqlCommand("SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)", connection))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _lockTimeoutSetting });
            lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
            try
            {
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                var holder = await DescribeLockHolderAsync(cancellationToken).ConfigureAwait(false);
                throw new MigrationException(
                    MigrationFailure.LockTimeout,
                    $"Timed out after {_options.LockTimeout.TotalSeconds:0.#}s waiting for the migration lock, held by {holder}. Another runner is probably migrating this database: wait for it to finish and run again, or raise the lock timeout. Nothing was changed.",
                    e);
            }
        }

        var state = await ReadStateAsync(connection, cancellationToken).ConfigureAwait(false);
        var result = await work(connection, state).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
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

    private static async Task RunStatementsAsync(NpgsqlConnection connection, KnownMigration migration, MigrationDirection direction, CancellationToken cancellationToken)
    {
        var statements = direction == MigrationDirection.Up ? migration.UpStatements : migration.DownStatements;
        foreach (var statement in statements)
        {
            try
            {
                await ExecuteAsync(connection, statement, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e)
            {
                var kind = e.SqlState == PostgresErrorCodes.LockNotAvailable ? MigrationFailure.LockTimeout : MigrationFailure.MigrationFailed;
                throw new MigrationException(
                    kind,
                    $"Migration {migration.Version} ({migration.Description}) failed going {direction.ToString().ToLowerInvariant()}: {e.SqlState} {e.MessageText}. Its transaction was rolled back: the schema and {VersionTable} are as they were before it. Statement:{Environment.NewLine}{statement}",
                    e);
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<DatabaseState> ReadStateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using (var exists = new NpgsqlCommand("SELECT to_regclass('version_info') IS NOT NULL", connection))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return new DatabaseState(false, new Dictionary<long, AppliedRow>());
            }
        }

        var applied = new Dictionary<long, AppliedRow>();
        using var command = new NpgsqlCommand("SELECT version, description, applied_on, checksum FROM version_info ORDER BY version", connection);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = new AppliedRow(reader.GetInt64(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3));
            applied.Add(row.Version, row);
        }

        return new DatabaseState(true, applied);
    }

    private static async Task RefuseUnmanagedSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
            ORDER BY c.relname
            """;
        var tables = new List<string>();
        using var command = new NpgsqlCommand(sql, connection);
        using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                tables.Add(reader.GetString(0));
            }
        }

        if (tables.Count > 0)
        {
            throw new MigrationException(
                MigrationFailure.Refused,
                $"The database already has tables ({string.Join(", ", tables)}) but no {VersionTable} table, so no runner has managed it. "
                + "If the Python side's Alembic created it, adopt it with 'statusdata-migrate baseline 202602282200' (Alembic revision a1b2c3d4e5f6), which verifies the schema first. Nothing was changed.");
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
            .Where(m => state.Applied.TryGetValue(m.Version, out var row) && row.Checksum != m.Checksum)
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

    private sealed record AppliedRow(long Version, string Description, DateTime AppliedOn, string Checksum);

    private sealed record DatabaseState(bool VersionTableExists, Dictionary<long, AppliedRow> Applied);
}
