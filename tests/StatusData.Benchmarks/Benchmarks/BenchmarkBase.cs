using System.Globalization;
using BenchmarkDotNet.Attributes;
using Npgsql;
using StatusData.Benchmarks.Contenders;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>The operations: one BenchmarkDotNet category each; the report divides every contender's time by raw Npgsql's.</summary>
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

/// <summary>Contender names, as the report shows them: the values of <see cref="BenchmarkBase.ContenderName"/>.</summary>
internal static class ContenderNames
{
    public const string Raw = "Raw Npgsql (prepared)";
    public const string StatusData = "StatusData";
    public const string StatusDataTraced = "StatusData, spans recorded";
    public const string EfCore = "EF Core 10 (compiled, no tracking)";
    public const string EfCoreSkipTake = "EF Core 10 (Skip/Take)";
    public const string Naive = "Naive Dapper";

    /// <summary>Not a contender: see <see cref="Contenders.Floor"/>.</summary>
    public const string Floor = "SELECT 1 (floor)";
}

/// <summary>
/// A benchmark class: BenchmarkDotNet runs each of its benchmarks once for every name in
/// <see cref="Contenders"/> (the <see cref="ContenderName"/> parameter), each time in a process of its own
/// that sets up that one contender, with its own connection pool, over the seeded database.
/// </summary>
public abstract class BenchmarkBase
{
    /// <summary>A bcrypt-shaped hash, 60 characters.</summary>
    private protected const string PasswordHash = "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5oVwB1iXXoWbHgoGf8M3eNsh0FBg.vW";

    /// <summary>What the posting benchmarks post, as the next of the users <see cref="CreatePosters"/> made.</summary>
    private protected const string Message = "Shipped the benchmarks today, and the streak goes on";

    private NpgsqlDataSource? _admin;
    private int _next;
    private Guid[] _posters = [];
    private int _turn;

    /// <summary>
    /// Where the contender connects. BenchmarkDotNet leaves it empty (the seeded database); the
    /// round-trip pass points it at its counting proxy. Setup and clean-up SQL never goes through it.
    /// </summary>
    internal string ConnectionString { get; set; } = string.Empty;

    [ParamsSource(nameof(Contenders))]
    public string ContenderName { get; set; } = ContenderNames.Raw;

    /// <summary>Who runs this class's benchmarks, in the order of the report (which puts the floor last): the floor and the four contenders, unless a class says otherwise.</summary>
    public virtual IEnumerable<string> Contenders => [ContenderNames.Floor, ContenderNames.Raw, ContenderNames.StatusData, ContenderNames.EfCore, ContenderNames.Naive];

    /// <summary>A prefix unique to this process, for the rows a writing benchmark creates and later deletes.</summary>
    private string RunPrefix { get; } = string.Create(CultureInfo.InvariantCulture, $"b{Environment.ProcessId:x}{Random.Shared.Next(0x10000):x4}_");

    private protected Contender Contender { get; private set; } = null!;

    private NpgsqlDataSource Admin => _admin ?? throw new InvalidOperationException("Not set up.");

    /// <summary>Sets up the contender named by <see cref="ContenderName"/>, then the class's own data (<see cref="SetUp"/>).</summary>
    [GlobalSetup]
    public void GlobalSetup()
    {
        var seeded = BenchmarkSettings.DatabaseConnectionString;
        _admin = NpgsqlDataSource.Create(seeded);
        var target = ConnectionString.Length > 0 ? ConnectionString : seeded;
        Contender = ContenderName switch
        {
            ContenderNames.Floor => new Floor(target),
            ContenderNames.Raw => new RawNpgsql(target),
            ContenderNames.StatusData or ContenderNames.StatusDataTraced => new StatusDataContender(target),
            ContenderNames.EfCore => new EfCoreContender(target, skipTake: false),
            ContenderNames.EfCoreSkipTake => new EfCoreContender(target, skipTake: true),
            ContenderNames.Naive => new NaiveDapper(target),
            _ => throw new InvalidOperationException($"No contender is named {ContenderName}."),
        };
        SetUp();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        CleanUp();
        Contender.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _admin?.Dispose();
    }

    private protected virtual void SetUp()
    {
    }

    /// <summary>Undoes <see cref="SetUp"/>; a class that writes deletes its rows here, so later benchmarks see the seeded data.</summary>
    private protected virtual void CleanUp()
    {
    }

    /// <summary>A fresh username for this process: <see cref="RunPrefix"/> and a counter.</summary>
    private protected string NextName() => RunPrefix + (++_next).ToString(CultureInfo.InvariantCulture);

    private protected Guid UserIdOf(string username)
    {
        using var command = Command("SELECT id FROM users WHERE username = $1", username);
        return (Guid)(command.ExecuteScalar() ?? throw new InvalidOperationException($"No seeded user {username}."));
    }

    /// <summary>Setup and clean-up SQL on the seeded database, with no timeout (a VACUUM takes its time).</summary>
    private protected NpgsqlCommand Command(string sql, params object[] parameters)
    {
        var command = Admin.CreateCommand(sql);
        command.CommandTimeout = 0;
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    private protected void Execute(string sql, params object[] parameters)
    {
        using var command = Command(sql, parameters);
        command.ExecuteNonQuery();
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
        using var command = Command("SELECT id FROM users WHERE username LIKE $1 ORDER BY username", RunPrefix + role + "%");
        using var reader = command.ExecuteReader();
        var ids = new List<Guid>(count);
        while (reader.Read())
        {
            ids.Add(reader.GetGuid(0));
        }

        return [.. ids];
    }

    /// <summary>
    /// 10,000 users of this process's own, to take turns posting. So many, because a few users updated
    /// thousands of times a second (with autovacuum off) pile up dead row versions and index entries, and
    /// each iteration would then be slower than the one before, the more so the faster the contender: a
    /// hot spot no real app has.
    /// </summary>
    private protected void CreatePosters(string role) => _posters = CreateUsers(role, 10_000);

    /// <summary>The next of the posters, in turn; callers may be concurrent.</summary>
    private protected Guid NextPoster() => _posters[(int)((uint)Interlocked.Increment(ref _turn) % (uint)_posters.Length)];

    /// <summary>Deletes every user this process created, with their status updates, and vacuums.</summary>
    private protected void DeleteCreatedRows()
    {
        Execute("DELETE FROM status_updates WHERE user_id IN (SELECT id FROM users WHERE username LIKE $1)", RunPrefix + "%");
        Execute("DELETE FROM users WHERE username LIKE $1", RunPrefix + "%");
        Execute("VACUUM (ANALYZE) users");
        Execute("VACUUM (ANALYZE) status_updates");
    }
}
