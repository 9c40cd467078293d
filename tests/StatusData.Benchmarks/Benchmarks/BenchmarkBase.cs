using System.Globalization;
using Npgsql;
using StatusData.Benchmarks.Contenders;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>The operations: one BenchmarkDotNet category each, with the raw Npgsql contender as its baseline.</summary>
internal static class Operations
{
    public const string GetUser = "Get user by id";
    public const string CreateUser = "Create user";
    public const string Post = "Post with XP and streak";
    public const string FeedFirst = "Feed page 1";
    public const string FeedDeep = "Feed page at 500k";
    public const string UserWithUpdates = "1 user + 100 updates";
    public const string UsersWithUpdates = "20 users + their updates";
    public const string Import = "Bulk import";
    public const string GetUserTraced = "Get user by id, spans recorded";
    public const string PostTraced = "Post, spans recorded";
    public const string PostsPerSecond = "Posts per second";
    public const string FeedReadsPerSecond = "Feed reads per second";

    /// <summary>The operations every contender runs, in the order of the report; the goals compare these.</summary>
    public static readonly string[] All = [GetUser, CreateUser, Post, FeedFirst, FeedDeep, UserWithUpdates, UsersWithUpdates, Import];

    /// <summary>StatusData with a listener recording its spans, next to raw Npgsql (<see cref="TracingBenchmarks"/>).</summary>
    public static readonly string[] Traced = [GetUserTraced, PostTraced];

    /// <summary>Concurrent callers (<see cref="ThroughputBenchmarks"/>).</summary>
    public static readonly string[] Throughput = [PostsPerSecond, FeedReadsPerSecond];

    /// <summary>Operations that read or write one row (one user, or one post with its author update).</summary>
    public static readonly string[] SingleRow = [GetUser, CreateUser, Post];

    /// <summary>Operations whose results every contender must agree on (reads of the seeded data).</summary>
    public static readonly string[] Verified = [GetUser, FeedFirst, FeedDeep, UserWithUpdates, UsersWithUpdates];
}

/// <summary>Contender names, as the report shows them.</summary>
internal static class ContenderNames
{
    public const string Raw = "Raw Npgsql (prepared)";
    public const string StatusData = "StatusData";
    public const string StatusDataTraced = "StatusData, spans recorded";
    public const string EfCore = "EF Core 10 (compiled, no tracking)";
    public const string EfCoreSkipTake = "EF Core 10 (Skip/Take)";
    public const string Naive = "Naive Dapper";

    /// <summary>
    /// Not a contender: a pooled connection checkout and one prepared <c>SELECT 1</c> round trip, measured in
    /// every operation's group, next to its contenders and under the same machine load.
    /// </summary>
    public const string Floor = "SELECT 1 (floor)";
}

/// <summary>Which contender a benchmark method measures (read by the report and the round-trip pass).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ContenderAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// Every contender over the seeded database: raw Npgsql, StatusData (a <see cref="StatusDatabase"/> over
/// its own data source built from the same connection string), EF Core and naive Dapper, each with its
/// own connection pool.
/// </summary>
public abstract class BenchmarkBase
{
    /// <summary>A bcrypt-shaped hash, 60 characters.</summary>
    private protected const string PasswordHash = "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5oVwB1iXXoWbHgoGf8M3eNsh0FBg.vW";

    private NpgsqlDataSource? _admin;
    private NpgsqlDataSource? _statusDataSource;
    private int _next;

    /// <summary>
    /// Where the contenders connect. BenchmarkDotNet leaves it empty (the seeded database); the
    /// round-trip pass points it at its counting proxy. Setup and clean-up SQL never goes through it.
    /// </summary>
    internal string ConnectionString { get; set; } = string.Empty;

    /// <summary>A prefix unique to this process, for the rows a writing benchmark creates and later deletes.</summary>
    private protected string RunPrefix { get; } = string.Create(CultureInfo.InvariantCulture, $"b{Environment.ProcessId:x}{Random.Shared.Next(0x10000):x4}_");

    private protected RawNpgsql Raw { get; private set; } = null!;

    private protected StatusDatabase StatusData { get; private set; } = null!;

    private protected EfCoreContender Ef { get; private set; } = null!;

    private protected NaiveDapper Naive { get; private set; } = null!;

    private protected NpgsqlDataSource Admin => _admin ?? throw new InvalidOperationException("Not set up.");

    private protected void SetUpContenders()
    {
        var seeded = BenchmarkSettings.DatabaseConnectionString;
        _admin = NpgsqlDataSource.Create(seeded);
        var target = ConnectionString.Length > 0 ? ConnectionString : seeded;
        Raw = new RawNpgsql(target);
        _statusDataSource = NpgsqlDataSource.Create(target);
        StatusData = new StatusDatabase(_statusDataSource);
        Ef = new EfCoreContender(target);
        Naive = new NaiveDapper(target);
    }

    private protected void TearDownContenders()
    {
        Raw.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _statusDataSource?.Dispose();
        Ef.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Naive.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _admin?.Dispose();
    }

    /// <summary>A fresh username for this process: <see cref="RunPrefix"/> and a counter.</summary>
    private protected string NextName() => RunPrefix + (++_next).ToString(CultureInfo.InvariantCulture);

    private protected Guid UserIdOf(string username) =>
        (Guid)(Scalar("SELECT id FROM users WHERE username = $1", username) ?? throw new InvalidOperationException($"No seeded user {username}."));

    private protected object? Scalar(string sql, params object[] parameters)
    {
        using var command = Admin.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command.ExecuteScalar();
    }

    private protected int Execute(string sql, params object[] parameters)
    {
        using var command = Admin.CreateCommand(sql);
        command.CommandTimeout = 0;
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command.ExecuteNonQuery();
    }

    /// <summary>Creates <paramref name="count"/> users named <see cref="RunPrefix"/>+role+n, for posting or importing; returns their ids.</summary>
    private protected Guid[] CreateUsers(string role, int count)
    {
        Execute(
            """
            INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
            SELECT gen_random_uuid(), $1 || n, 'Bench ' || n, $1 || n || '@bench.example', $2, NULL, 0, 0, 0, NULL, now()
            FROM generate_series(1, $3) AS n
            """,
            RunPrefix + role,
            PasswordHash,
            count);
        using var command = Admin.CreateCommand("SELECT id FROM users WHERE username LIKE $1 ORDER BY username");
        command.Parameters.Add(new NpgsqlParameter { Value = RunPrefix + role + "%" });
        using var reader = command.ExecuteReader();
        var ids = new List<Guid>(count);
        while (reader.Read())
        {
            ids.Add(reader.GetGuid(0));
        }

        return [.. ids];
    }

    /// <summary>Deletes every user this process created, with their status updates, and vacuums.</summary>
    private protected void DeleteCreatedRows()
    {
        Execute("DELETE FROM status_updates WHERE user_id IN (SELECT id FROM users WHERE username LIKE $1)", RunPrefix + "%");
        Execute("DELETE FROM users WHERE username LIKE $1", RunPrefix + "%");
        Execute("VACUUM (ANALYZE) users");
        Execute("VACUUM (ANALYZE) status_updates");
    }
}
