using System.Diagnostics;
using Npgsql;
using StatusData.Benchmarks.Benchmarks;
using StatusData.Benchmarks.Contenders;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>What the server alone needs to store the import's rows, with no client in the way.</summary>
/// <param name="IndexedRowsPerSecond">INSERT … SELECT from a temporary table into status_updates (its 5 indexes and the foreign key), median of 3.</param>
/// <param name="BareRowsPerSecond">The same into a table like status_updates without indexes or constraints, median of 3.</param>
internal sealed record ServerImportProbe(double IndexedRowsPerSecond, double BareRowsPerSecond)
{
    /// <summary>
    /// Loads the import benchmark's rows into a temporary table, then times the server copying them into
    /// status_updates (deleting them and vacuuming between tries, as the benchmark does) and into a bare
    /// table: the ceiling any client's import can reach on this server and schema.
    /// </summary>
    public static async Task<ServerImportProbe> MeasureAsync(string connectionString, int rowCount)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        await ExecuteAsync(connection, """
            INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
            SELECT gen_random_uuid(), 'probe' || n, 'Probe', 'probe' || n || '@bench.example', 'x', NULL, 0, 0, 0, NULL, now()
            FROM generate_series(1, 100) AS n
            """);
        var authors = new List<Guid>();
        await using (var command = new NpgsqlCommand("SELECT id FROM users WHERE username LIKE 'probe%' ORDER BY username", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                authors.Add(reader.GetGuid(0));
            }
        }

        // The rows go in once by the raw contender's binary COPY, and a temporary table keeps a copy to insert again.
        await using (var raw = new RawNpgsql(connectionString))
        {
            await raw.ImportAsync(ImportBenchmarks.Rows([.. authors], rowCount), []);
        }

        await ExecuteAsync(connection, """
            CREATE TEMP TABLE probe_rows AS SELECT * FROM status_updates WHERE user_id IN (SELECT id FROM users WHERE username LIKE 'probe%');
            CREATE TEMP TABLE probe_bare (LIKE status_updates)
            """);
        var indexed = new List<double>();
        var bare = new List<double>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await ExecuteAsync(connection, "DELETE FROM status_updates WHERE user_id IN (SELECT id FROM users WHERE username LIKE 'probe%')");
            await ExecuteAsync(connection, "VACUUM status_updates");
            indexed.Add(rowCount / await TimeAsync(connection, "INSERT INTO status_updates SELECT * FROM probe_rows"));
            bare.Add(rowCount / await TimeAsync(connection, "INSERT INTO probe_bare SELECT * FROM probe_rows"));
            await ExecuteAsync(connection, "TRUNCATE probe_bare");
        }

        await ExecuteAsync(connection, "DELETE FROM status_updates WHERE user_id IN (SELECT id FROM users WHERE username LIKE 'probe%')");
        await ExecuteAsync(connection, "VACUUM status_updates");
        await ExecuteAsync(connection, "DELETE FROM users WHERE username LIKE 'probe%'; DROP TABLE probe_rows; DROP TABLE probe_bare");
        await ExecuteAsync(connection, "VACUUM (ANALYZE) users");
        return new ServerImportProbe(indexed.Order().ElementAt(1), bare.Order().ElementAt(1));
    }

    private static async Task<double> TimeAsync(NpgsqlConnection connection, string sql)
    {
        var clock = Stopwatch.StartNew();
        await ExecuteAsync(connection, sql);
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }
}
