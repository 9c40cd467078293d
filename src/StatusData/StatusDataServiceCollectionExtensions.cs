using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace StatusData;

/// <summary>Registers StatusData with <see cref="IServiceCollection"/>.</summary>
public static class StatusDataServiceCollectionExtensions
{
    /// <summary>
    /// The service key of the <see cref="NpgsqlDataSource"/> that <c>AddStatusData(connectionString)</c> builds, for the
    /// application's own SQL over it: <c>GetRequiredKeyedService&lt;NpgsqlDataSource&gt;(DataSourceKey)</c> or
    /// <c>[FromKeyedServices(DataSourceKey)]</c>. Keyed, so that it never takes the place of an unkeyed
    /// <see cref="NpgsqlDataSource"/> the application registers (e.g. with Npgsql.DependencyInjection), in either order.
    /// </summary>
    public const string DataSourceKey = "StatusData";

    /// <summary>
    /// Registers <see cref="IStatusDatabase"/>, <see cref="IUserRepository"/> and
    /// <see cref="IStatusUpdateRepository"/> as singletons over a data source built from
    /// <paramref name="connectionString"/>, owned and disposed by the container, with Npgsql's automatic statement
    /// preparation on (unless the connection string sets <c>Max Auto Prepare</c>, or
    /// <see cref="StatusDataOptions.PrepareStatements"/> is off) and, with several hosts, <c>Host Recheck Seconds=1</c>
    /// unless the connection string sets it, so that writes find a new primary within about a second of a failover
    /// (Npgsql's default is 10). The data source is registered as a keyed
    /// <see cref="NpgsqlDataSource"/> too (<see cref="DataSourceKey"/>), for the application's own SQL.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="connectionString">An Npgsql connection string; checked now.</param>
    /// <param name="configure">Adjusts <see cref="StatusDataOptions"/>; the result is validated when the host starts.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentException">The connection string is empty or malformed.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the type of their first parameter (connection string, data source, health checks builder), so a call never binds ambiguously.")]
    public static IServiceCollection AddStatusData(this IServiceCollection services, string connectionString, Action<StatusDataOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        NpgsqlDataSourceBuilder builder;
        try
        {
            builder = new NpgsqlDataSourceBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The StatusData connection string is not valid: {e.Message}", nameof(connectionString), e);
        }

        // Our own holder type, so that StatusData uses this data source whatever NpgsqlDataSource the application
        // registers for itself, before or after this call. The application reaches this one under DataSourceKey.
        services.TryAddSingleton(sp => new OwnedDataSource(Build(builder, sp.GetRequiredService<IOptions<StatusDataOptions>>().Value)));
        services.TryAddKeyedSingleton(DataSourceKey, (sp, _) => sp.GetRequiredService<OwnedDataSource>().DataSource);
        return AddCore(services, sp => sp.GetRequiredService<OwnedDataSource>().DataSource, configure);
    }

    /// <summary>
    /// The data source of <see cref="AddStatusData(IServiceCollection, string, Action{StatusDataOptions}?)"/>. Dapper
    /// prepares nothing itself; Npgsql's automatic preparation does, once a statement has run a few times on a
    /// connection. It is turned on here (<c>Max Auto Prepare=32</c>: StatusData runs about 15 statements) when
    /// <see cref="StatusDataOptions.PrepareStatements"/> is on and the connection string does not set it itself.
    /// With several hosts, <c>Host Recheck Seconds</c> is 1 unless the connection string sets it (<see cref="HostRecheckSeconds"/>).
    /// </summary>
    private static NpgsqlDataSource Build(NpgsqlDataSourceBuilder builder, StatusDataOptions options)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = builder.ConnectionString };
        if (options.PrepareStatements && !given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = AutoPrepared;
        }

        if (builder.ConnectionStringBuilder.Host?.Contains(',', StringComparison.Ordinal) == true
            && !given.ContainsKey("Host Recheck Seconds") && !given.ContainsKey("HostRecheckSeconds"))
        {
            builder.ConnectionStringBuilder.HostRecheckSeconds = HostRecheckSeconds;
        }

        return builder.Build();
    }

    /// <summary>How many statements per connection Npgsql prepares automatically on the data source StatusData builds.</summary>
    internal const int AutoPrepared = 32;

    /// <summary>
    /// How long a multi-host data source that StatusData builds trusts what it learnt of each host's role (primary,
    /// standby, down): 1 s instead of Npgsql's 10. After a failover Npgsql keeps the new primary for a standby until
    /// that expires, and answers "No suitable host was found" meanwhile; measured on a pg_auto_failover pair, the first
    /// write came up to 10 s after the promotion with 10 and 0.6 s with 1 (docs/reliability.md). The cost is one
    /// role query per host and second, and only when a connection is opened.
    /// </summary>
    internal const int HostRecheckSeconds = 1;

    /// <summary>
    /// Registers <see cref="IStatusDatabase"/>, <see cref="IUserRepository"/> and
    /// <see cref="IStatusUpdateRepository"/> as singletons over an existing data source, which the caller keeps owning.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="dataSource">The data source.</param>
    /// <param name="configure">Adjusts <see cref="StatusDataOptions"/>; the result is validated when the host starts.</param>
    /// <returns>The services, for chaining.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the type of their first parameter (connection string, data source, health checks builder), so a call never binds ambiguously.")]
    public static IServiceCollection AddStatusData(this IServiceCollection services, NpgsqlDataSource dataSource, Action<StatusDataOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(dataSource);
        return AddCore(services, _ => dataSource, configure);
    }

    /// <summary>
    /// Adds <see cref="StatusDataHealthCheck"/>: the database answers within <paramref name="timeout"/> and its
    /// schema is at or past <see cref="StatusDataHealthCheck.RequiredSchemaVersion"/>. Uses the data source
    /// registered by <c>AddStatusData</c>.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">What a failure reports; default <see cref="HealthStatus.Unhealthy"/> (e.g. <see cref="HealthStatus.Degraded"/> for a liveness probe).</param>
    /// <param name="timeout">How long the check may take; default 5 seconds.</param>
    /// <param name="tags">Tags for filtering, e.g. "ready".</param>
    /// <returns>The builder, for chaining.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The overloads differ in the type of their first parameter (connection string, data source, health checks builder), so a call never binds ambiguously.")]
    public static IHealthChecksBuilder AddStatusData(this IHealthChecksBuilder builder, string name = "statusdata", HealthStatus failureStatus = HealthStatus.Unhealthy, TimeSpan? timeout = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var limit = timeout ?? TimeSpan.FromSeconds(5);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new StatusDataHealthCheck(
                (sp.GetRequiredService<IStatusDatabase>() as StatusDatabase
                    ?? throw new InvalidOperationException("AddHealthChecks().AddStatusData() checks the database that services.AddStatusData(...) registers; the registered IStatusDatabase is not StatusData's own.")).DataSource,
                limit),
            failureStatus,
            tags,
            timeout: null)); // the check bounds itself, and says so; the framework's own timeout would only say "timeout"
    }

    private static IServiceCollection AddCore(IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> dataSource, Action<StatusDataOptions>? configure)
    {
        var options = services.AddOptions<StatusDataOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StatusDataOptions>, StatusDataOptions.Validator>());
        options.ValidateOnStart();

        services.TryAddSingleton<IStatusDatabase>(sp => new StatusDatabase(
            dataSource(sp),
            sp.GetRequiredService<IOptions<StatusDataOptions>>().Value,
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<IStatusDatabase>().Users);
        services.TryAddSingleton(sp => sp.GetRequiredService<IStatusDatabase>().StatusUpdates);
        return services;
    }

    private sealed class OwnedDataSource(NpgsqlDataSource dataSource) : IAsyncDisposable, IDisposable
    {
        public NpgsqlDataSource DataSource { get; } = dataSource;

        public ValueTask DisposeAsync() => DataSource.DisposeAsync();

        public void Dispose() => DataSource.Dispose();
    }
}
