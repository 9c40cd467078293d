using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using StatusData.Migrations;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Migrate at startup: register a <see cref="StatusDataMigrator"/>, then run it in one call.</summary>
public static class StatusDataMigrationsServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="StatusDataMigrator"/> for <paramref name="connectionString"/>, logging
    /// through the container's <see cref="ILoggerFactory"/> (category <c>StatusData.Migrations.StatusDataMigrator</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="connectionString">A role that may change the schema; usually not the application's own role.</param>
    /// <param name="configure">Adjusts the options (lock timeout, drift); <see langword="null"/> for the defaults.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddStatusDataMigrations(this IServiceCollection services, string connectionString, Action<StatusDataMigratorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.TryAddSingleton(sp =>
        {
            var options = new StatusDataMigratorOptions();
            configure?.Invoke(options);
            return new StatusDataMigrator(connectionString, options, sp.GetService<ILoggerFactory>()?.CreateLogger<StatusDataMigrator>());
        });
        return services;
    }

    /// <summary>
    /// Applies every pending migration with the registered <see cref="StatusDataMigrator"/>; safe when
    /// several instances of the application start at once (they wait for each other's lock).
    /// </summary>
    /// <param name="services">The application's service provider.</param>
    /// <param name="cancellationToken">Stops the run before the next migration.</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="MigrationException">A migration failed, the lock wait timed out, or a safety check refused.</exception>
    /// <exception cref="Npgsql.NpgsqlException">The database could not be reached.</exception>
    public static Task<MigrationResult> MigrateStatusDataAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetRequiredService<StatusDataMigrator>().UpAsync(cancellationToken: cancellationToken);
    }
}
