using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace StatusData;

/// <summary>
/// Healthy when the database answers and its schema is at or past <see cref="RequiredSchemaVersion"/>
/// (as <c>version_info</c>, which statusdata-migrate keeps, records); otherwise the registration's failure
/// status, with a message naming both versions and what to do. Bounded by a timeout.
/// </summary>
public sealed class StatusDataHealthCheck : IHealthCheck
{
    /// <summary>The schema version this build of the library needs: the newest StatusData migration (keyset pagination indexes).</summary>
    public const long RequiredSchemaVersion = 202611220900;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeSpan _timeout;

    /// <summary>Creates the check over the data source StatusData uses.</summary>
    /// <param name="dataSource">The database.</param>
    /// <param name="timeout">How long the check may take before it reports the database as not answering.</param>
    public StatusDataHealthCheck(NpgsqlDataSource dataSource, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        _dataSource = dataSource;
        _timeout = timeout;
    }

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        long? version;
        try
        {
            // WaitAsync as well as the token: Npgsql does not give up a connection attempt on cancellation
            // once the server has accepted the socket (a hung server), only at its own connection timeout.
            version = await ReadVersionAsync(deadline.Token).WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // Tell the attempt still running to stop (Npgsql gives it up at its own connection timeout at the latest).
            await deadline.CancelAsync().ConfigureAwait(false);
            return new HealthCheckResult(context.Registration.FailureStatus, $"The database did not answer within {_timeout.TotalSeconds:0.#} s.");
        }
        catch (NpgsqlException e)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The database cannot be reached: {e.Message}", e);
        }

        var data = new Dictionary<string, object> { ["required_version"] = RequiredSchemaVersion, ["schema_version"] = version ?? 0 };
        return version >= RequiredSchemaVersion
            ? HealthCheckResult.Healthy($"Schema at {version}; StatusData needs {RequiredSchemaVersion}.", data)
            : new HealthCheckResult(
                context.Registration.FailureStatus,
                version is null
                    ? $"The database has no migrated schema (no version_info); StatusData needs {RequiredSchemaVersion}. Run statusdata-migrate up (or baseline)."
                    : $"Schema at {version}, behind the {RequiredSchemaVersion} StatusData needs. Run statusdata-migrate up.",
                data: data);
    }

    private async Task<long?> ReadVersionAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var exists = new NpgsqlCommand("SELECT to_regclass('version_info') IS NOT NULL", connection);
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return null;
            }

            using var max = new NpgsqlCommand("SELECT max(version) FROM version_info", connection);
            return await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as long?;
        }
    }
}
