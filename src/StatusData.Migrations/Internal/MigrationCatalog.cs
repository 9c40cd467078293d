using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using FluentMigrator;
using FluentMigrator.Infrastructure;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Initialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace StatusData.Migrations.Internal;

/// <summary>A migration, with the checksum of the Up SQL FluentMigrator generates for it.</summary>
/// <remarks>
/// <paramref name="AlembicRevision"/> is the Alembic revision the migration mirrors, if any;
/// <paramref name="AlembicRevisionBefore"/> the one of the newest mirroring migration before it (null: Alembic's base).
/// <paramref name="InTransaction"/> is false for <see cref="TransactionBehavior.None"/>: concurrent index builds.
/// </remarks>
internal sealed record KnownMigration(
    long Version,
    string Description,
    IMigration Migration,
    string Checksum,
    string? AlembicRevision,
    string? AlembicRevisionBefore,
    bool InTransaction = true);

/// <summary>
/// The ordered, validated set of migrations a <see cref="StatusDataMigrator"/> works with, each rendered
/// (its Up step) to SQL once by FluentMigrator's connectionless processor with the PostgreSQL 15 generator.
/// </summary>
/// <remarks>
/// The checksum is SHA-256 of the Up SQL statements as FluentMigrator generates them, joined by
/// <c>";\n"</c>: the same on every machine and run, and it changes when the migration's effect does, or
/// when a FluentMigrator upgrade changes the SQL it generates for it (the pinned checksums in the tests
/// catch that before it ships).
/// </remarks>
internal sealed class MigrationCatalog
{
    private readonly IReadOnlyList<IMigration> _instances;
    private readonly Dictionary<long, KnownMigration> _byVersion;

    private MigrationCatalog(IReadOnlyList<IMigration> instances, IReadOnlyList<KnownMigration> migrations)
    {
        _instances = instances;
        Migrations = migrations;
        _byVersion = migrations.ToDictionary(m => m.Version);
    }

    /// <summary>Ascending by version.</summary>
    public IReadOnlyList<KnownMigration> Migrations { get; }

    public long LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>The migrations by version, for the version rows FluentMigrator writes.</summary>
    public IReadOnlyDictionary<long, KnownMigration> ByVersion => _byVersion;

    public KnownMigration? Find(long version) => Migrations.FirstOrDefault(m => m.Version == version);

    public KnownMigration? FindByAlembicRevision(string revision) => Migrations.FirstOrDefault(m => m.AlembicRevision == revision);

    /// <summary>Concrete FluentMigrator migrations with a <see cref="MigrationAttribute"/> in <paramref name="assembly"/>.</summary>
    public static IReadOnlyList<IMigration> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true } && typeof(IMigration).IsAssignableFrom(t)
                        && t.GetCustomAttribute<MigrationAttribute>() is not null)
            .Select(t => (IMigration)Activator.CreateInstance(t)!)
            .ToList();

    public static MigrationCatalog Create(IReadOnlyList<IMigration> migrations)
    {
        var attributes = new List<(MigrationAttribute Attribute, IMigration Migration)>();
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

            MigrationRules.ValidateWaivers(type);

            attributes.Add((attribute, migration));
        }

        var duplicate = attributes.GroupBy(a => a.Attribute.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two migrations share version {duplicate.Key}.", nameof(migrations));
        }

        var known = new List<KnownMigration>();
        string? alembicRevision = null;
        using (var renderer = new Renderer(migrations, new Dictionary<long, KnownMigration>(), defaultSchema: null))
        {
            foreach (var (attribute, migration) in attributes.OrderBy(a => a.Attribute.Version))
            {
                var up = renderer.Capture(runner => runner.Up(migration));
                if (up.Count == 0)
                {
                    throw new ArgumentException($"Migration {attribute.Version} ({migration.GetType().FullName}) has no Up statements.", nameof(migrations));
                }

                var mirrors = migration.GetType().GetCustomAttribute<MirrorsAlembicRevisionAttribute>()?.Revision;
                known.Add(new KnownMigration(
                    attribute.Version, attribute.Description, migration, Checksum(up), mirrors, mirrors is null ? null : alembicRevision, attribute.TransactionBehavior == TransactionBehavior.Default));
                alembicRevision = mirrors ?? alembicRevision;
            }
        }

        return new MigrationCatalog(migrations, known);
    }

    /// <summary>
    /// The Up SQL of <paramref name="migrations"/> with every unqualified name in <paramref name="schema"/>, to build in one
    /// transaction: index builds without CONCURRENTLY, which cannot run in one (the scratch tables are new and empty).
    /// </summary>
    public IReadOnlyList<string> UpSqlInSchema(IEnumerable<KnownMigration> migrations, string schema)
    {
        using var renderer = new Renderer(_instances, _byVersion, schema, concurrentIndexes: false);
        return migrations.SelectMany(m => renderer.Capture(runner => runner.Up(m.Migration))).ToList();
    }

    /// <summary>
    /// What FluentMigrator's runner executes for each migration in one transaction, version-table row
    /// included, in the given order.
    /// </summary>
    public IReadOnlyList<(KnownMigration Migration, IReadOnlyList<string> Sql)> Script(MigrationDirection direction, IEnumerable<KnownMigration> migrations)
    {
        using var renderer = new Renderer(_instances, _byVersion, defaultSchema: null);
        return migrations
            .Select(m =>
            {
                var info = renderer.Info(m.Version);
                IReadOnlyList<string> sql = renderer.Capture(runner =>
                {
                    if (direction == MigrationDirection.Up)
                    {
                        runner.ApplyMigrationUp(info, useTransaction: true);
                    }
                    else
                    {
                        runner.ApplyMigrationDown(info, useTransaction: true);
                    }
                });
                return (m, sql);
            })
            .ToList();
    }

    /// <summary>
    /// For <c>plan</c>: each Up expression of each migration, after FluentMigrator's conventions (default schema and names),
    /// with the SQL it renders to and what it locks, then the SQL of its version row (with alembic_version's, if it mirrors a
    /// revision). An expression that renders no SQL (<c>Alter.Table</c> alone) is left out.
    /// </summary>
    public IReadOnlyList<(KnownMigration Migration, IReadOnlyList<(string Sql, IReadOnlyList<LockImpact> Locks)> Steps, IReadOnlyList<string> VersionRow)> Plan(IEnumerable<KnownMigration> migrations)
    {
        using var renderer = new Renderer(_instances, _byVersion, defaultSchema: null);
        return migrations
            .Select(m => (m, (IReadOnlyList<(string, IReadOnlyList<LockImpact>)>)renderer.Steps(m.Migration), (IReadOnlyList<string>)renderer.Capture(runner => runner.VersionLoader.UpdateVersionInfo(m.Version))))
            .ToList();
    }

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

    /// <summary>FluentMigrator's runner over its connectionless processor, with the SQL it emits captured.</summary>
    private sealed class Renderer : IDisposable
    {
        private readonly SqlCapture _capture = new();
        private readonly ServiceProvider _services;
        private readonly IServiceScope _scope;
        private readonly MigrationRunner _runner;

        public Renderer(IReadOnlyList<IMigration> migrations, IReadOnlyDictionary<long, KnownMigration> known, string? defaultSchema, bool concurrentIndexes = true)
        {
            _services = FluentMigratorServices.Build(migrations, connectionString: null, known, "0", TimeSpan.Zero, _capture, defaultSchema, concurrentIndexes);
            _scope = _services.CreateScope();
            _runner = (MigrationRunner)_scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        }

        public IMigrationInfo Info(long version) => _runner.MigrationLoader.LoadMigrations()[version];

        public List<string> Capture(Action<MigrationRunner> action)
        {
            _capture.Statements.Clear();
            action(_runner);
            return _capture.Statements.Select(s => s.Trim().TrimEnd(';').ReplaceLineEndings("\n")).Where(s => s.Length > 0).ToList();
        }

        /// <summary>The Up expressions one by one, as FluentMigrator's MigrationRunner.ExecuteMigration runs them, each with its SQL.</summary>
        public List<(string Sql, IReadOnlyList<LockImpact> Locks)> Steps(IMigration migration)
        {
            var services = _scope.ServiceProvider;
            var context = new MigrationContext(_runner.Processor, services, services.GetRequiredService<IConnectionStringAccessor>().ConnectionString);
            migration.GetUpExpressions(context);
            services.GetRequiredService<MigrationValidator>().ApplyConventionsToAndValidateExpressions(migration, context.Expressions);
            return context.Expressions
                .Select(expression => (Sql: string.Join(";\n", Capture(runner => expression.ExecuteWith(runner.Processor))), Locks: LockImpact.Of(expression)))
                .Where(step => step.Sql.Length > 0)
                .ToList();
        }

        public void Dispose()
        {
            _scope.Dispose();
            _services.Dispose();
        }
    }

    /// <summary>Collects the SQL statements FluentMigrator logs (event <see cref="RunnerEventIds.Sql"/>), nothing else.</summary>
    private sealed class SqlCapture : ILoggerProvider, ILogger
    {
        public List<string> Statements { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId == RunnerEventIds.Sql)
            {
                Statements.Add(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }
}
