using Npgsql;

namespace StatusData.Tests.Support;

/// <summary>Small SQL helpers for asserting what the database holds, with positional parameters ($1, $2, ...).</summary>
internal static class Sql
{
    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        var value = await command.ExecuteScalarAsync(Ct);
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<int> ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        return await command.ExecuteNonQueryAsync(Ct);
    }

    public static async Task<List<T>> ColumnAsync<T>(NpgsqlDataSource dataSource, string sql, params object?[] args)
    {
        await using var command = Command(dataSource, sql, args);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var values = new List<T>();
        while (await reader.ReadAsync(Ct))
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
