using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using FluentMigrator;

namespace StatusData.Migrations.Cli;

/// <summary>
/// <c>statusdata-migrate</c>: the command line deployment pipelines run. Results go to stdout, progress
/// and errors to stderr, and the exit code always tells the truth (see <see cref="ExitCodes"/>).
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Applies, reverts and inspects StatusData schema migrations.");
        root.Options.Add(CommandRunner.ConnectionOption);
        root.Options.Add(CommandRunner.LockTimeoutOption);
        root.Options.Add(CommandRunner.LockAttemptTimeoutOption);
        root.Options.Add(ExtraMigrations.Option);

        var upTo = new Option<long?>("--to") { Description = "Last version to apply (default: the latest).", CustomParser = r => Arguments.Version(r, "--to") };
        var up = new Command("up", "Apply pending migrations, up to the latest or to --to.") { upTo, AllowDrift };
        up.SetAction((result, ct) => MigrateAsync(result, runner => runner.UpAsync(result.GetValue(upTo), ct), ct));

        var downTo = new Option<long?>("--to") { Description = "Version to end at; 0 reverts everything. Required.", CustomParser = r => Arguments.Version(r, "--to") };
        var down = new Command("down", "Revert applied migrations newer than --to, newest first.") { downTo, AllowDataLoss };
        down.Validators.Add(command =>
        {
            if (command.GetResult(downTo) is null)
            {
                command.AddError("down needs --to: the version to end at, e.g. 'down --to 202602282200' (0 reverts everything).");
            }
        });
        down.SetAction((result, ct) => MigrateAsync(result, runner => runner.DownAsync(result.GetValue(downTo)!.Value, ct), ct));

        var steps = new Option<int>("--steps") { Description = "How many of the latest applied migrations to revert.", DefaultValueFactory = _ => 1, CustomParser = Arguments.Steps };
        var rollback = new Command("rollback", "Revert the last --steps applied migrations.") { steps, AllowDataLoss };
        rollback.SetAction((result, ct) => MigrateAsync(result, runner => runner.RollbackAsync(result.GetValue(steps), ct), ct));

        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var status = new Command("status", "Show every known migration, applied or pending, with its applied-on time.") { json };
        status.SetAction((result, ct) => StatusAsync(result, result.GetValue(json), ct));

        var direction = new Argument<string>("direction") { Description = "up or down.", CustomParser = Arguments.Direction };
        var scriptFrom = new Option<long?>("--from") { Description = "Version the database is at (0 = empty). Given, no connection is needed; otherwise the database is asked.", CustomParser = r => Arguments.Version(r, "--from") };
        var scriptTo = new Option<long?>("--to") { Description = "Version to end at (up: default latest; down: required).", CustomParser = r => Arguments.Version(r, "--to") };
        var script = new Command("script", "Print the SQL of a planned up or down without running it.") { direction, scriptFrom, scriptTo };
        script.SetAction((result, ct) => ScriptAsync(result, result.GetValue(direction) == "up" ? MigrationDirection.Up : MigrationDirection.Down, result.GetValue(scriptFrom), result.GetValue(scriptTo), ct));

        var planTo = new Option<long?>("--to") { Description = "Last version to apply (default: the latest).", CustomParser = r => Arguments.Version(r, "--to") };
        var planJson = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var plan = new Command("plan", "Show what up would do: each pending migration's statements, its transaction, and the locks each statement takes.") { planTo, planJson };
        plan.SetAction((result, ct) => WithRunnerAsync(result, async runner =>
        {
            var planned = await runner.PlanAsync(result.GetValue(planTo), ct);
            await Console.Out.WriteLineAsync(result.GetValue(planJson) ? PlanFormat.Json(planned) : PlanFormat.Text(planned, Options(result)));
            return ExitCodes.Success;
        }, ct));

        var baselineVersion = new Argument<long?>("version")
        {
            Description = "Version to record as applied, e.g. 202602282200 for Alembic revision a1b2c3d4e5f6. Default: the migration that mirrors the revision in alembic_version.",
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => Arguments.Version(r, "baseline's version"),
        };
        var baseline = new Command("baseline", "Record migrations up to a version as applied without running them, after verifying the schema matches.") { baselineVersion };
        baseline.SetAction((result, ct) => WithRunnerAsync(result, async runner =>
        {
            var version = await runner.BaselineAsync(result.GetValue(baselineVersion), ct);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"baselined: the schema matches; migrations up to {version} are recorded as applied without running them"));
            return ExitCodes.Success;
        }, ct));

        root.Subcommands.Add(up);
        root.Subcommands.Add(down);
        root.Subcommands.Add(rollback);
        root.Subcommands.Add(status);
        root.Subcommands.Add(script);
        root.Subcommands.Add(plan);
        root.Subcommands.Add(baseline);
        root.Subcommands.Add(GrantCommand.Create());

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Checks that need no database all run here, before anything connects: a usage error is exit 2
            // whether or not the server is up. A parse error may quote a misplaced connection string: redacted.
            foreach (var line in Arguments.UsageErrors(parsed, root))
            {
                await CommandRunner.UsageErrorAsync(line, parsed);
            }

            await Console.Error.WriteLineAsync("Run 'statusdata-migrate --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync();
    }

    private static Task<int> MigrateAsync(ParseResult result, Func<StatusDataMigrator, Task<MigrationResult>> action, CancellationToken cancellationToken) =>
        WithRunnerAsync(result, async runner =>
        {
            var outcome = await action(runner);
            foreach (var step in outcome.Steps)
            {
                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{(step.Direction == MigrationDirection.Up ? "applied " : "reverted")} {step.Version}  {step.Description}  ({step.Duration.TotalMilliseconds:0} ms)"));
            }

            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(outcome.Steps.Count == 0 ? "nothing to do; " : string.Empty)}database is at version {outcome.CurrentVersion}"));
            return ExitCodes.Success;
        }, cancellationToken);

    private static Task<int> StatusAsync(ParseResult result, bool asJson, CancellationToken cancellationToken) =>
        WithRunnerAsync(result, async runner =>
        {
            var statuses = await runner.GetStatusAsync(cancellationToken);
            var alembic = await runner.GetAlembicStatusAsync(cancellationToken);
            await Console.Out.WriteLineAsync(asJson ? StatusFormat.Json(statuses, alembic) : StatusFormat.Table(statuses, alembic));
            if (alembic.Disagreement is { } problem)
            {
                await Console.Error.WriteLineAsync("warn: " + problem);
            }

            return ExitCodes.Success;
        }, cancellationToken);

    private static Task<int> ScriptAsync(ParseResult result, MigrationDirection direction, long? from, long? to, CancellationToken cancellationToken)
    {
        if (from is { } offlineFrom)
        {
            // Offline: the plan comes from --from alone, so no connection string is needed.
            return CommandRunner.RunOfflineAsync(async () =>
            {
                var runner = new StatusDataMigrator("Host=offline", Options(result));
                await Console.Out.WriteAsync(runner.Script(direction, offlineFrom, to));
                return ExitCodes.Success;
            }, cancellationToken);
        }

        return WithRunnerAsync(result, async runner =>
        {
            await Console.Out.WriteAsync(await runner.ScriptAsync(direction, to, cancellationToken));
            return ExitCodes.Success;
        }, cancellationToken);
    }

    private static Task<int> WithRunnerAsync(ParseResult result, Func<StatusDataMigrator, Task<int>> action, CancellationToken cancellationToken) =>
        CommandRunner.RunAsync(result, target => action(new StatusDataMigrator(target.ConnectionString, Options(result), new StderrLogger(target))), cancellationToken);

    private static readonly Option<bool> AllowDrift = new("--allow-drift") { Description = "Proceed although an applied migration changed since it was applied." };

    private static readonly Option<bool> AllowDataLoss = new("--allow-data-loss") { Description = "Revert steps that drop tables or columns holding data (refused otherwise, naming each table and its row count)." };

    private static StatusDataMigratorOptions Options(ParseResult result) =>
        ExtraMigrations.Apply(result, new StatusDataMigratorOptions
        {
            LockTimeout = CommandRunner.LockTimeout(result),
            LockAttemptTimeout = TimeSpan.FromMilliseconds(result.GetValue(CommandRunner.LockAttemptTimeoutOption)),
            AllowChecksumMismatch = Given(result, AllowDrift),
            AllowDataLoss = Given(result, AllowDataLoss),
        });

    /// <summary>A flag of the command being run; false for commands that do not take it.</summary>
    private static bool Given(ParseResult result, Option<bool> flag) => result.CommandResult.Command.Options.Contains(flag) && result.GetValue(flag);

    private static class StatusFormat
    {
        private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

        public static string Table(IReadOnlyList<MigrationStatus> statuses, AlembicStatus alembic)
        {
            var lines = new List<string> { $"{"VERSION",-14}{"STATE",-21}{"APPLIED ON (UTC)",-22}{"ALEMBIC",-15}DESCRIPTION" };
            lines.AddRange(statuses.Select(s => string.Create(CultureInfo.InvariantCulture,
                $"{s.Version,-14}{StateName(s.State),-21}{s.AppliedOn?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? string.Empty,-22}{s.AlembicRevision ?? "-",-15}{s.Description}")));
            var database = !alembic.TableExists ? "no alembic_version table" : alembic.Revisions.Count == 0 ? "base (no revision)" : string.Join(", ", alembic.Revisions);
            lines.Add(alembic.Disagreement is not null
                ? $"alembic_version: {database}; DISAGREES with version_info (expects {alembic.Expected ?? "base"}), see the warning"
                : !alembic.TableExists && alembic.Expected is not null
                    ? $"alembic_version: {database}; the next up records {alembic.Expected}"
                    : $"alembic_version: {database}; agrees with version_info");
            return string.Join(Environment.NewLine, lines);
        }

        public static string Json(IReadOnlyList<MigrationStatus> statuses, AlembicStatus alembic) =>
            JsonSerializer.Serialize(
                new
                {
                    migrations = statuses.Select(s => new { version = s.Version, description = s.Description, state = StateName(s.State), appliedOn = s.AppliedOn, alembicRevision = s.AlembicRevision }),
                    alembic = new { tableExists = alembic.TableExists, revisions = alembic.Revisions, expected = alembic.Expected, agrees = alembic.Disagreement is null, disagreement = alembic.Disagreement },
                },
                Indented);

        private static string StateName(MigrationState state) => state switch
        {
            MigrationState.Pending => "pending",
            MigrationState.Applied => "applied",
            MigrationState.ChecksumMismatch => "checksum-mismatch",
            MigrationState.RevertedByAlembic => "reverted-by-alembic",
            _ => "unknown-to-code",
        };
    }

    private static class PlanFormat
    {
        // SQL quotes its identifiers: printed as they are rather than as \u0022 (stdout is no HTML page).
        private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        public static string Text(MigrationPlan plan, StatusDataMigratorOptions options)
        {
            if (plan.Migrations.Count == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"nothing to apply; database is at {plan.CurrentVersion}");
            }

            var attempt = options.LockAttemptTimeout < options.LockTimeout ? options.LockAttemptTimeout : options.LockTimeout;
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture,
                    $"database is at {plan.CurrentVersion}; up to {plan.TargetVersion} would apply {plan.Migrations.Count} migration{(plan.Migrations.Count == 1 ? string.Empty : "s")}:"),
            };
            foreach (var migration in plan.Migrations)
            {
                lines.Add(string.Empty);
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{migration.Version}  {migration.Description}"));
                lines.Add(migration.InTransaction
                    ? string.Create(CultureInfo.InvariantCulture,
                        $"  in one transaction with its version row: each attempt waits at most {attempt.TotalSeconds:0.###}s for its locks, then rolls back and retries, for up to {options.LockTimeout.TotalSeconds:0.###}s; every lock is held until it commits")
                    : string.Create(CultureInfo.InvariantCulture,
                        $"  outside a transaction: each statement commits on its own and waits for locks at most {options.LockTimeout.TotalSeconds:0.###}s in all (a build waits for the transactions already using its table, blocking none of them); the version row is written last"));
                foreach (var violation in migration.RuleViolations)
                {
                    lines.Add("  rule broken: " + violation);
                }

                for (var i = 0; i < migration.Statements.Count; i++)
                {
                    var statement = migration.Statements[i];
                    var number = string.Create(CultureInfo.InvariantCulture, $"  {i + 1}. ");
                    lines.Add(number + statement.Sql.Replace("\n", "\n" + new string(' ', number.Length), StringComparison.Ordinal));
                    lines.AddRange(statement.Locks.Select(l => $"{new string(' ', number.Length)}{l.Mode}{(l.Table is null ? string.Empty : " on " + l.Table)}: {l.Effect}"));
                }
            }

            return string.Join(Environment.NewLine, lines);
        }

        public static string Json(MigrationPlan plan) =>
            JsonSerializer.Serialize(
                new
                {
                    currentVersion = plan.CurrentVersion,
                    targetVersion = plan.TargetVersion,
                    migrations = plan.Migrations.Select(m => new
                    {
                        version = m.Version,
                        description = m.Description,
                        inTransaction = m.InTransaction,
                        statements = m.Statements.Select(s => new { sql = s.Sql, locks = s.Locks.Select(l => new { mode = l.Mode, table = l.Table, effect = l.Effect }) }),
                        ruleViolations = m.RuleViolations,
                    }),
                },
                Indented);
    }
}
