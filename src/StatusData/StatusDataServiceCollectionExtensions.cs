using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace StatusData;

/// <summary>Registers StatusData with <see cref="IServiceCollection"/>.</summary>
public static class StatusDataServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IStatusDatabase"/>, <see cref="IUserRepository"/> and
    /// <see cref="IStatusUpdateRepository"/> as singletons over a data source built from
    /// <paramref name="connectionString"/>, owned and disposed by the container.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="connectionString">An Npgsql connection string; checked now.</param>
    /// <param name="configure">Adjusts <see cref="StatusDataOptions"/>; the result is validated when the host starts.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentException">The connection string is empty or malformed.</exception>
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

        // Our own holder type, so an NpgsqlDataSource the application registers for itself is left alone.
        services.TryAddSingleton(_ => new OwnedDataSource(builder.Build()));
        return AddCore(services, sp => sp.GetRequiredService<OwnedDataSource>().DataSource, configure);
    }

    /// <summary>
    /// Registers <see cref="IStatusDatabase"/>, <see cref="IUserRepository"/> and
    /// <see cref="IStatusUpdateRepository"/> as singletons over an existing data source, which the caller keeps owning.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="dataSource">The data source.</param>
    /// <param name="configure">Adjusts <see cref="StatusDataOptions"/>; the result is validated when the host starts.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddStatusData(this IServiceCollection services, NpgsqlDataSource dataSource, Action<StatusDataOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(dataSource);
        return AddCore(services, _ => dataSource, configure);
    }

    private static IServiceCollection AddCore(IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> dataSource, Action<StatusDataOptions>? configure)
    {
        var options = services.AddOptions<StatusDataOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options
            .Validate(
                o => o.MaxMessageLength is >= 1 and <= StatusDataOptions.MessageLengthLimit,
                $"StatusDataOptions.MaxMessageLength must be between 1 and {StatusDataOptions.MessageLengthLimit}.")
            .Validate(o => o.ReadAttempts is >= 1 and <= 10, "StatusDataOptions.ReadAttempts must be between 1 and 10.")
            .ValidateOnStart();

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
