using System.Diagnostics;
using Npgsql;

namespace StatusData.Tests.Reliability;

/// <summary>Small SQL helpers for asserting what the database holds, with positional parameters ($1, $2, ...).</summary>
internal static class Sql
{
    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        var value = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<int> ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        return await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public static async Task<List<T>> ColumnAsync<T>(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var values = new List<T>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    /// <summary>How many rows each table holds.</summary>
    public static async Task<(long Users, long StatusUpdates)> CountsAsync(NpgsqlDataSource dataSource) =>
        (await ScalarAsync<long>(dataSource, "SELECT count(*) FROM users"),
         await ScalarAsync<long>(dataSource, "SELECT count(*) FROM status_updates"));

    /// <summary>Status updates whose author does not exist: must always be 0.</summary>
    public static Task<long> OrphansAsync(NpgsqlDataSource dataSource) =>
        ScalarAsync<long>(dataSource, "SELECT count(*) FROM status_updates s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)");

    /// <summary>Every column of every row of both tables, as text, ordered: compare two snapshots to prove nothing changed.</summary>
    public static async Task<string> SnapshotAsync(NpgsqlDataSource dataSource)
    {
        var users = await ColumnAsync<string>(dataSource, "SELECT u::text FROM users u ORDER BY id");
        var updates = await ColumnAsync<string>(dataSource, "SELECT s::text FROM status_updates s ORDER BY id");
        return string.Join('\n', users) + "\n--\n" + string.Join('\n', updates);
    }

    private static NpgsqlCommand Command(NpgsqlDataSource dataSource, string sql, object?[] args)
    {
        var command = dataSource.CreateCommand(sql);
        foreach (var arg in args)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = arg ?? DBNull.Value });
        }

        return command;
    }
}

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

            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}
