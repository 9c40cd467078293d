using FluentMigrator;
using FluentMigrator.Model;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Conventions;
using FluentMigrator.Runner.Generators;
using FluentMigrator.Runner.Generators.Postgres;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Processors;
using FluentMigrator.Runner.Processors.Postgres;
using FluentMigrator.Runner.VersionTableInfo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace StatusData.Migrations.Internal;

/// <summary>
/// FluentMigrator's runner as StatusData configures it: the PostgreSQL 15 generator and processor,
/// our <c>version_info</c> table, the given migration instances, and FluentMigrator's own extension
/// points for what it lacks (a checksum on each version row, a lock timeout on each migration transaction).
/// </summary>
internal static class FluentMigratorServices
{
    /// <summary>
    /// A FluentMigrator service provider. With a connection string, FluentMigrator's PostgreSQL
    /// processor runs the migrations; without one, its connectionless processor only renders their SQL
    /// to <paramref name="logger"/> (event <see cref="RunnerEventIds.Sql"/>), which is how StatusData gets
    /// the SQL it checksums, verifies baselines with and prints as scripts.
    /// </summary>
    public static ServiceProvider Build(
        IReadOnlyList<IMigration> migrations,
        string? connectionString,
        IReadOnlyDictionary<long, KnownMigration> known,
        string lockTimeoutSetting,
        ILoggerProvider logger,
        string? defaultSchema = null)
    {
        var services = new ServiceCollection()
            .AddLogging(logging => logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddProvider(logger))
            .AddFluentMigratorCore()
            .ConfigureRunner(runner =>
            {
                runner.AddPostgres15_0().WithVersionTable(new VersionTable());
                if (connectionString is not null)
                {
                    runner.WithGlobalConnectionString(connectionString);
                }
            });

        // Registered after AddFluentMigratorCore, so these replace its defaults (the last registration wins).
        services.AddScoped<IFilteringMigrationSource>(_ => new InstanceMigrationSource(migrations));
        services.AddSingleton(new VersionRows(known));
        services.AddScoped<IVersionLoader>(sp => connectionString is null
            ? ActivatorUtilities.CreateInstance<ScriptVersionLoader>(sp)
            : ActivatorUtilities.CreateInstance<ChecksumVersionLoader>(sp));
        if (connectionString is not null)
        {
            // Only with a connection: without one, FluentMigrator would take the processor id for a connection string.
            services.AddSingleton(new LockTimeoutSetting(lockTimeoutSetting));
            services.AddScoped<LockTimeoutProcessor>();
            services.AddScoped<IMigrationProcessor>(sp => sp.GetRequiredService<LockTimeoutProcessor>());
            services.Configure<SelectingProcessorAccessorOptions>(o => o.ProcessorId = LockTimeoutProcessor.Id);
            services.Configure<SelectingGeneratorAccessorOptions>(o => o.GeneratorId = ProcessorIdConstants.PostgreSQL15_0);
        }

        if (defaultSchema is not null)
        {
            services.AddScoped<IConventionSet>(_ => new DefaultConventionSet(defaultSchema, workingDirectory: null));
        }

        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    /// <summary>
    /// <c>version_info</c>, in snake_case like the rest of the schema. StatusData creates the table itself
    /// (see <see cref="VersionInfoTable"/>): FluentMigrator's own would have a nullable
    /// <c>timestamp without time zone</c> applied-on column and no checksum.
    /// </summary>
    private sealed class VersionTable : IVersionTableMetaData
    {
        public bool OwnsSchema => false;

        public string SchemaName => string.Empty;

        public string TableName => VersionInfoTable.Name;

        public string ColumnName => "version";

        public string DescriptionColumnName => "description";

        public string UniqueIndexName => "version_info_pkey";

        public string AppliedOnColumnName => "applied_on";

        public bool CreateWithPrimaryKey => true;
    }

    /// <summary>Exactly the given migrations, instead of FluentMigrator's assembly scan.</summary>
    private sealed class InstanceMigrationSource(IReadOnlyList<IMigration> migrations) : IFilteringMigrationSource
    {
        public IEnumerable<IMigration> GetMigrations(Func<Type, bool> predicate) => migrations.Where(m => predicate(m.GetType()));
    }

    /// <summary>What StatusData adds to the version rows FluentMigrator writes and deletes.</summary>
    private sealed record VersionRows(IReadOnlyDictionary<long, KnownMigration> Known)
    {
        /// <summary>
        /// FluentMigrator's version row plus our checksum, with applied_on as <c>now()</c>: its default,
        /// <c>(now() at time zone 'UTC')</c>, is a timestamp without time zone that a timestamptz column
        /// would read in the session's time zone.
        /// </summary>
        public InsertionDataDefinition Complete(InsertionDataDefinition row, long version)
        {
            var completed = new InsertionDataDefinition();
            completed.AddRange(row.Select(column => column.Key == "applied_on" ? new KeyValuePair<string, object>(column.Key, RawSql.Insert("now()")) : column));
            completed.Add(new KeyValuePair<string, object>("checksum", Known[version].Checksum));
            return completed;
        }

        public void Recorded(IMigrationProcessor processor, long version) => AlembicVersionTable.Applied(processor, Known[version]);

        public void Deleted(IMigrationProcessor processor, long version) => AlembicVersionTable.Reverted(processor, Known[version]);
    }

    // Both loaders re-implement IVersionLoader's two writes (FluentMigrator's are not virtual) to keep
    // alembic_version in step, in the migration's transaction: the row is written right before it commits.

    private sealed class ChecksumVersionLoader(
        IProcessorAccessor processorAccessor,
        IGeneratorAccessor generatorAccessor,
        IConventionSet conventionSet,
        IMigrationRunnerConventions conventions,
        IVersionTableMetaData versionTableMetaData,
        IMigrationRunner runner,
        VersionRows rows)
        : VersionLoader(processorAccessor, generatorAccessor, conventionSet, conventions, versionTableMetaData, runner), IVersionLoader
    {
        private readonly IMigrationProcessor _processor = processorAccessor.Processor;

        void IVersionLoader.UpdateVersionInfo(long version, string description)
        {
            UpdateVersionInfo(version, description);
            rows.Recorded(_processor, version);
        }

        void IVersionLoader.DeleteVersion(long version)
        {
            DeleteVersion(version);
            rows.Deleted(_processor, version);
        }

        protected override InsertionDataDefinition CreateVersionInfoInsertionData(long version, string description) =>
            rows.Complete(base.CreateVersionInfoInsertionData(version, description), version);
    }

    private sealed class ScriptVersionLoader(
        IGeneratorAccessor generatorAccessor,
        IProcessorAccessor processorAccessor,
        IMigrationRunnerConventions conventions,
        IOptions<RunnerOptions> runnerOptions,
        IMigrationInformationLoader migrationInformationLoader,
        IVersionTableMetaData versionTableMetaData,
        VersionRows rows)
        : ConnectionlessVersionLoader(generatorAccessor, processorAccessor, conventions, runnerOptions, migrationInformationLoader, versionTableMetaData), IVersionLoader
    {
        private readonly IMigrationProcessor _processor = processorAccessor.Processor;

        void IVersionLoader.UpdateVersionInfo(long version, string description)
        {
            UpdateVersionInfo(version, description);
            rows.Recorded(_processor, version);
        }

        void IVersionLoader.DeleteVersion(long version)
        {
            DeleteVersion(version);
            rows.Deleted(_processor, version);
        }

        protected override InsertionDataDefinition CreateVersionInfoInsertionData(long version, string description) =>
            rows.Complete(base.CreateVersionInfoInsertionData(version, description), version);
    }

    private sealed record LockTimeoutSetting(string Value);

    /// <summary>
    /// FluentMigrator's PostgreSQL 15 processor, with <c>SET LOCAL lock_timeout</c> at the start of every
    /// transaction it opens: a migration waiting for a table lock gives up after the lock timeout instead
    /// of stalling the deployment (and every query queued behind its lock request). SET LOCAL lasts for
    /// the transaction only, so nothing is left on a connection PgBouncer hands to someone else.
    /// </summary>
    private sealed class LockTimeoutProcessor(
        PostgresDbFactory factory,
        Postgres15_0Generator generator,
        ILogger<Postgres15_0Processor> logger,
        IOptionsSnapshot<ProcessorOptions> options,
        IConnectionStringAccessor connectionStringAccessor,
        PostgresOptions pgOptions,
        LockTimeoutSetting lockTimeout)
        : Postgres15_0Processor(factory, generator, logger, options, connectionStringAccessor, pgOptions)
    {
        public const string Id = "StatusData.Postgres15";

        public override string DatabaseType => Id;

        public override void BeginTransaction()
        {
            var started = Transaction is null;
            base.BeginTransaction();
            if (started)
            {
                // The value is ours (whole milliseconds), never user text.
                Execute($"SET LOCAL lock_timeout = '{lockTimeout.Value}'");
            }
        }
    }
}
