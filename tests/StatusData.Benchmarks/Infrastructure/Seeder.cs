using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>
/// Fills a freshly migrated database with binary COPY: 10,000 users, each with 100 status updates
/// (1,000,000 in all) at random instants over one year in eight categories of skewed popularity;
/// then VACUUM ANALYZE, so the planner has statistics and the visibility map is set.
/// </summary>
internal static class Seeder
{
    public const int Users = 10_000;

    public const int UpdatesPerUser = 100;

    public const int StatusUpdates = Users * UpdatesPerUser;

    /// <summary>The deep feed page starts after this many rows (newest first).</summary>
    public const int DeepPagePosition = 500_000;

    public const int PageSize = 50;

    /// <summary>Categories, most popular first: a category is drawn with weight 1/(rank+1).</summary>
    public static readonly string[] Categories = ["general", "work", "fitness", "reading", "coding", "travel", "food", "music"];

    /// <summary>Seeded updates lie in [Start, Start + 365 days).</summary>
    public static readonly DateTime Start = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly string[] Words =
    [
        "today", "finally", "shipped", "the", "new", "release", "coffee", "run", "morning", "read", "chapter", "book",
        "walked", "dog", "park", "rain", "sun", "train", "late", "again", "lunch", "pasta", "guitar", "practice",
        "learned", "something", "about", "postgres", "indexes", "streak", "day", "week", "weekend", "trip", "mountains",
        "bug", "fixed", "review", "meeting", "long", "short", "happy", "tired", "great", "small", "win", "music", "album",
    ];

    /// <summary>The username of seeded user <paramref name="index"/> (0-based).</summary>
    public static string Username(int index) => string.Create(CultureInfo.InvariantCulture, $"user{index:D5}");

    public static async Task SeedAsync(string connectionString, TextWriter log, CancellationToken cancellationToken = default)
    {
        var random = new Random(20261122);
        var stopwatch = Stopwatch.StartNew();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

        // Bench-only: no autovacuum in the middle of a timed iteration. Writing benchmarks clean up after
        // themselves and VACUUM explicitly (outside the timings) instead.
        await ExecuteAsync(connection, "ALTER TABLE users SET (autovacuum_enabled = off); ALTER TABLE status_updates SET (autovacuum_enabled = off)", cancellationToken);

        var userIds = new Guid[Users];
        await using (var importer = await connection.BeginBinaryImportAsync(
            "COPY users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at) FROM STDIN (FORMAT BINARY)",
            cancellationToken))
        {
            for (var i = 0; i < Users; i++)
            {
                userIds[i] = RandomGuid(random);
                var current = random.Next(0, 30);
                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(userIds[i], NpgsqlDbType.Uuid, cancellationToken);
                await importer.WriteAsync(Username(i), NpgsqlDbType.Varchar, cancellationToken);
                await importer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"User {i}"), NpgsqlDbType.Varchar, cancellationToken);
                await importer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"user{i:D5}@example.com"), NpgsqlDbType.Varchar, cancellationToken);
                await importer.WriteAsync("$2b$12$" + RandomText(random, 53), NpgsqlDbType.Varchar, cancellationToken);
                if (i % 2 == 0)
                {
                    await importer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"https://cdn.example.com/avatars/{i}.png"), NpgsqlDbType.Varchar, cancellationToken);
                }
                else
                {
                    await importer.WriteNullAsync(cancellationToken);
                }

                await importer.WriteAsync(UpdatesPerUser * 10, NpgsqlDbType.Integer, cancellationToken);
                await importer.WriteAsync(current, NpgsqlDbType.Integer, cancellationToken);
                await importer.WriteAsync(current + random.Next(0, 30), NpgsqlDbType.Integer, cancellationToken);
                await importer.WriteAsync(DateOnly.FromDateTime(Start.AddDays(365 - random.Next(0, 60))), NpgsqlDbType.Date, cancellationToken);
                await importer.WriteAsync(Start.AddDays(-random.Next(1, 730)).AddSeconds(random.Next(86_400)), NpgsqlDbType.TimestampTz, cancellationToken);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        log.WriteLine($"seed: {Users:N0} users in {stopwatch.Elapsed.TotalSeconds:F1} s");
        var weights = Categories.Select((_, rank) => 1.0 / (rank + 1)).ToArray();
        var totalWeight = weights.Sum();
        await using (var importer = await connection.BeginBinaryImportAsync(
            "COPY status_updates (id, user_id, message, category, created_at) FROM STDIN (FORMAT BINARY)",
            cancellationToken))
        {
            // Rows arrive in no particular order of created_at, as years of posts by many users would.
            for (var n = 0; n < StatusUpdates; n++)
            {
                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(RandomGuid(random), NpgsqlDbType.Uuid, cancellationToken);
                await importer.WriteAsync(userIds[n % Users], NpgsqlDbType.Uuid, cancellationToken); // exactly 100 per user
                await importer.WriteAsync(RandomMessage(random), NpgsqlDbType.Text, cancellationToken);
                await importer.WriteAsync(PickCategory(random, weights, totalWeight), NpgsqlDbType.Varchar, cancellationToken);
                await importer.WriteAsync(RandomInstant(random), NpgsqlDbType.TimestampTz, cancellationToken);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        log.WriteLine($"seed: {StatusUpdates:N0} status updates in {stopwatch.Elapsed.TotalSeconds:F1} s");
        await ExecuteAsync(connection, "VACUUM (ANALYZE) users", cancellationToken);
        await ExecuteAsync(connection, "VACUUM (ANALYZE) status_updates", cancellationToken);
        await ExecuteAsync(connection, "CHECKPOINT", cancellationToken);
        log.WriteLine($"seed: VACUUM ANALYZE done in {stopwatch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>A random instant in the seeded year, at PostgreSQL's microsecond precision.</summary>
    public static DateTime RandomInstant(Random random) =>
        Start.AddTicks(random.NextInt64(0, TimeSpan.FromDays(365).Ticks / 10) * 10);

    public static string RandomMessage(Random random)
    {
        var builder = new StringBuilder(160);
        var words = random.Next(4, 25);
        for (var w = 0; w < words; w++)
        {
            if (w > 0)
            {
                builder.Append(' ');
            }

            builder.Append(Words[random.Next(Words.Length)]);
        }

        return builder.ToString();
    }

    public static string PickCategory(Random random, double[] weights, double totalWeight)
    {
        var pick = random.NextDouble() * totalWeight;
        for (var i = 0; i < weights.Length; i++)
        {
            pick -= weights[i];
            if (pick <= 0)
            {
                return Categories[i];
            }
        }

        return Categories[^1];
    }

    /// <summary>A random version-4 UUID from <paramref name="random"/> (rows from the Python side carry v4 ids).</summary>
    public static Guid RandomGuid(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes);
    }

    private static string RandomText(Random random, int length)
    {
        const string alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[r.Next(alphabet.Length)];
            }
        });
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
