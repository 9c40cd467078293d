using System.Diagnostics;
using Npgsql;

namespace StatusData.Tests.Support;

/// <summary>Finds and terminates the library's server backends, by the Application Name its data source connects with.</summary>
internal static class Backends
{
    /// <summary>A data source over <paramref name="connectionString"/> whose connections carry a unique Application Name.</summary>
    public static NpgsqlDataSource Create(string connectionString, out string applicationName, Action<NpgsqlConnectionStringBuilder>? configure = null)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        applicationName = "reliability-" + Guid.NewGuid().ToString("N")[..12];
        builder.ConnectionStringBuilder.ApplicationName = applicationName;
        configure?.Invoke(builder.ConnectionStringBuilder);
        return builder.Build();
    }

    /// <summary>Waits (up to a generous minute) until a backend of <paramref name="applicationName"/> sleeps in pg_sleep, and returns its pid.</summary>
    public static Task<int> WaitForSleepAsync(NpgsqlDataSource admin, string applicationName) =>
        WaitForAsync(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep' LIMIT 1", applicationName);

    /// <summary>Waits until a backend of <paramref name="applicationName"/> is idle (a pooled connection), and returns its pid.</summary>
    public static Task<int> WaitForIdleAsync(NpgsqlDataSource admin, string applicationName) =>
        WaitForAsync(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' LIMIT 1", applicationName);

    /// <summary>pg_terminate_backend, and waits until the backend is gone.</summary>
    public static async Task TerminateAsync(NpgsqlDataSource admin, int pid)
    {
        Assert.True(await Sql.ScalarAsync<bool>(admin, "SELECT pg_terminate_backend($1, 20000)", pid), $"backend {pid} was not terminated");
    }

    public static async Task<int> WaitForAsync(NpgsqlDataSource admin, string sql, object arg)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var pid = await Sql.ScalarAsync<int?>(admin, sql, arg);
            if (pid is { } found)
            {
                return found;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"No backend matched within 60 s: {sql} [{arg}]");
            }

            await Task.Delay(25, Ct);
        }
    }
}
