using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Conventions;
using FluentMigrator.Runner.Generators;
using FluentMigrator.Runner.Generators.Postgres;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Processors;
using FluentMigrator.Runner.Processors.Postgres;
using FluentMigrator.Runner.Versioning;
using FluentMigrator.Runner.VersionTableInfo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
        TimeSpan lockWaitLimit,
        ILoggerProvider logger,
        string? defaultSchema = null,
        bool concurrentIndexes = true,
        ILogger? runLogger = null)
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

        // Registered after AddFluentMigratorCore and AddPostgres15_0, so these replace their defaults (the last registration wins).
        services.AddScoped<Postgres15_0Generator>(sp => new StatusDataGenerator(
            sp.GetRequiredService<PostgresQuoter>(), sp.GetRequiredService<IOptions<GeneratorOptions>>(), sp.GetRequiredService<IPostgresTypeMap>(), concurrentIndexes));
        services.AddScoped<IFilteringMigrationSource>(_ => new InstanceMigrationSource(migrations));
        services.AddScoped<IVersionLoader>(sp => new StatusDataVersionLoader(
            connectionString is null ? ActivatorUtilities.CreateInstance<ConnectionlessVersionLoader>(sp) : ActivatorUtilities.CreateInstance<VersionLoader>(sp),
            sp.GetRequiredService<IProcessorAccessor>().Processor,
            known));
        if (connectionString is not null)
        {
            // Only with a connection: without one, FluentMigrator would take the processor id for a connection string.
            services.AddSingleton(new RunSettings(connectionString, lockTimeoutSetting, lockWaitLimit, runLogger ?? NullLogger.Instance));
            services.AddScoped<StatusDataProcessor>();
            services.AddScoped<IMigrationProcessor>(sp => sp.GetRequiredService<StatusDataProcessor>());
            services.Configure<SelectingProcessorAccessorOptions>(o => o.ProcessorId = StatusDataProcessor.Id);
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

    /// <summary>
    /// FluentMigrator's version loader (connected or connectionless), with StatusData's version row: the
    /// checksum beside FluentMigrator's three columns, applied_on as <c>now()</c> (FluentMigrator's
    /// <c>(now() at time zone 'UTC')</c> is a timestamp without time zone that a timestamptz column would
    /// read in the session's time zone), and alembic_version kept in step. Both writes run through the
    /// processor inside the migration's transaction, right before it commits.
    /// </summary>
    private sealed class StatusDataVersionLoader(IVersionLoader inner, IMigrationProcessor processor, IReadOnlyDictionary<long, KnownMigration> known) : IVersionLoader
    {
        public bool AlreadyCreatedVersionSchema => inner.AlreadyCreatedVersionSchema;

        public bool AlreadyCreatedVersionTable => inner.AlreadyCreatedVersionTable;

        public IMigrationRunner Runner { get => inner.Runner; set => inner.Runner = value; }

        public IVersionInfo VersionInfo { get => inner.VersionInfo; set => inner.VersionInfo = value; }

        public IVersionTableMetaData VersionTableMetaData => inner.VersionTableMetaData;

        public IVersionTableMetaData GetVersionTableMetaData() => inner.GetVersionTableMetaData();

        public void LoadVersionInfo() => inner.LoadVersionInfo();

        public void RemoveVersionTable() => inner.RemoveVersionTable();

        public void UpdateVersionInfo(long version) => UpdateVersionInfo(version, known[version].Description);

        public void UpdateVersionInfo(long version, string description)
        {
            var insert = new InsertDataExpression { TableName = VersionInfoTable.Name };
            insert.Rows.Add(
            [
                new("version", version),
                new("applied_on", RawSql.Insert("now()")),
                new("description", description),
                new("checksum", known[version].Checksum),
            ]);
            InTransaction(() =>
            {
                processor.Process(insert);
                AlembicVersionTable.Applied(processor, known[version]);
            });
        }

        public void DeleteVersion(long version) =>
            InTransaction(() =>
            {
                inner.DeleteVersion(version);
                AlembicVersionTable.Reverted(processor, known[version]);
            });

        /// <summary>
        /// In the migration's transaction; for a migration outside one, in a transaction of its own, so that
        /// version_info and alembic_version change together, and only after every statement succeeded.
        /// </summary>
        private void InTransaction(Action write)
        {
            if (processor is not StatusDataProcessor { Transaction: null })
            {
                write();
                return;
            }

            processor.BeginTransaction();
            try
            {
                write();
                processor.CommitTransaction();
            }
            catch
            {
                processor.RollbackTransaction();
                throw;
            }
        }
    }

    /// <param name="ConnectionString">The run's connection string (for <see cref="Internal.LockWaitLimit"/>'s own connection).</param>
    /// <param name="LockTimeout">The per-attempt <c>lock_timeout</c> of every transaction, as PostgreSQL reads it.</param>
    /// <param name="LockWaitLimit">How long a concurrent index build or drop may wait for locks in total (<see cref="Internal.LockWaitLimit"/>).</param>
    /// <param name="Logger">The run's logger.</param>
    private sealed record RunSettings(string ConnectionString, string LockTimeout, TimeSpan LockWaitLimit, ILogger Logger);

    /// <summary>
    /// FluentMigrator's PostgreSQL 15 generator, with concurrent index drops (<see cref="ConcurrentIndexExtensions"/>)
    /// and, for a scratch schema of new empty tables built inside a transaction (baseline's comparison), plain builds.
    /// </summary>
    private sealed class StatusDataGenerator(PostgresQuoter quoter, IOptions<GeneratorOptions> options, IPostgresTypeMap typeMap, bool concurrentIndexes)
        : Postgres15_0Generator(quoter, options, typeMap)
    {
        public override string Generate(DeleteIndexExpression expression)
        {
            if (!ConcurrentIndexes.IsConcurrent(expression.Index))
            {
                return base.Generate(expression);
            }

            var schema = Quoter.QuoteSchemaName(expression.Index.SchemaName);
            var index = Quoter.QuoteIndexName(expression.Index.Name);
            return $"DROP INDEX CONCURRENTLY IF EXISTS {(string.IsNullOrEmpty(schema) ? index : $"{schema}.{index}")};";
        }

        protected override string GetAsConcurrently(CreateIndexExpression expression) =>
            concurrentIndexes ? base.GetAsConcurrently(expression) : string.Empty;
    }

    /// <summary>
    /// FluentMigrator's PostgreSQL 15 processor, with two policies of StatusData's.
    /// <para><b>A short lock timeout</b>: <c>SET LOCAL lock_timeout</c> at the start of every transaction it opens, so a
    /// statement waiting for a table lock gives up after one attempt's timeout instead of queueing the apps behind its
    /// request (<see cref="MigrationSteps"/> retries the migration). SET LOCAL lasts for the transaction only, so nothing
    /// is left on a connection PgBouncer hands to someone else.</para>
    /// <para><b>Concurrent index builds that survive a failed run</b>: before <c>CREATE INDEX CONCURRENTLY</c>, an INVALID
    /// index of that name (left by a build that failed or was killed) is dropped concurrently, and a valid one with the
    /// same definition (a build that finished before its run stopped) is kept; after the build, the index must be valid
    /// before the version row is written.</para>
    /// </summary>
    private sealed class StatusDataProcessor(
        PostgresDbFactory factory,
        Postgres15_0Generator generator,
        ILogger<Postgres15_0Processor> logger,
        IOptionsSnapshot<ProcessorOptions> options,
        IConnectionStringAccessor connectionStringAccessor,
        PostgresOptions pgOptions,
        RunSettings settings)
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
                Execute($"SET LOCAL lock_timeout = '{settings.LockTimeout}'");
            }
        }

        public override void Process(CreateIndexExpression expression)
        {
            var concurrent = ConcurrentIndexes.IsConcurrent(expression.Index);
            if (concurrent)
            {
                EnsureConnectionIsOpen();
                switch (ConcurrentIndexes.Find(Connection, expression.Index))
                {
                    case ConcurrentIndexes.Leftover.Invalid:
                        Log.DroppingInvalidIndex(settings.Logger, expression.Index.Name);
                        Process(new DeleteIndexExpression { Index = expression.Index });
                        break;
                    case ConcurrentIndexes.Leftover.Built:
                        Log.KeepingBuiltIndex(settings.Logger, expression.Index.Name);
                        return;
                }
            }

            if (!concurrent)
            {
                base.Process(expression);
                return;
            }

            WithLockWaitLimit(Generator.Generate(expression), () => base.Process(expression));
            if (!ConcurrentIndexes.IsValid(Connection, expression.Index))
            {
                throw new InvalidOperationException($"Index {expression.Index.Name} is not valid after CREATE INDEX CONCURRENTLY returned; the migration is not recorded.");
            }
        }

        public override void Process(DeleteIndexExpression expression)
        {
            if (ConcurrentIndexes.IsConcurrent(expression.Index))
            {
                WithLockWaitLimit(Generator.Generate(expression), () => base.Process(expression));
            }
            else
            {
                base.Process(expression);
            }
        }

        /// <summary>Runs a concurrent index statement with its lock waits bounded by <see cref="RunSettings.LockWaitLimit"/>.</summary>
        private void WithLockWaitLimit(string sql, Action run)
        {
            using var limit = Internal.LockWaitLimit.Start(settings.ConnectionString, sql, settings.LockWaitLimit);
            try
            {
                run();
            }
            catch (Exception e) when (limit.Fired)
            {
                throw new LockWaitLimitException(sql, settings.LockWaitLimit, e);
            }
        }
    }
}
