using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.ScaleOut;

/// <summary>
/// The primary of a real pg_auto_failover pair (primary and synchronous standby, <see cref="AutoFailoverCluster"/>)
/// fails while eight writers post through StatusData, as an app registers it (<c>AddStatusData(connectionString)</c>
/// with both nodes and <c>Target Session Attributes=read-write</c>). Afterwards, on the new primary: every
/// acknowledged post is there, every author's XP is 10 × their posts, every failure was a StatusData exception whose
/// outcome was true, and writes and reads went on with the same service provider. The figures go to the test output
/// and to artifacts/failover-figures.txt (docs/reliability.md quotes them).
/// </summary>
[Trait("Category", "Slow")] // a cluster of its own per test, failed over under load
[Collection(AutoFailoverCluster.TestCollection)]
public sealed class FailoverTests
{
    private const int Writers = 8;
    private const int XpPerPost = 10;
    private static readonly TimeSpan Before = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task WhenThePrimaryIsKilledNoAcknowledgedPostIsLostAndEveryFailureSaysWhetherItWasWritten()
    {
        await using var cluster = await AutoFailoverCluster.StartAsync(Ct);
        await RunAsync(cluster, "kill", async () =>
        {
            var killed = await cluster.KillPrimaryPostmasterAsync(cancellationToken: Ct);
            return (await cluster.WaitForPrimaryAsync(killed, TimeSpan.FromSeconds(60), Ct)).Node;
        });
    }

    [Fact]
    public async Task WhenTheEngineSwitchesOverNoAcknowledgedPostIsLostAndEveryFailureSaysWhetherItWasWritten()
    {
        await using var cluster = await AutoFailoverCluster.StartAsync(Ct);
        await RunAsync(cluster, "switchover", () => cluster.SwitchoverAsync(Ct));
    }

    private static async Task RunAsync(AutoFailoverCluster cluster, string name, Func<Task<AutoFailoverNode>> fail)
    {
        // As an app would write it: both nodes, follow the primary. Host Recheck Seconds is left to StatusData's default.
        var connectionString = $"Host={string.Join(',', cluster.Nodes.Select(n => $"127.0.0.1:{n.Port}"))};Username=postgres;Database=postgres;"
            + "Target Session Attributes=read-write;Timeout=5;Application Name=failover-writers";
        await new StatusDataMigrator(connectionString).UpAsync(cancellationToken: Ct);
        await using var services = new ServiceCollection().AddStatusData(connectionString, o => o.ReadAttempts = 3).BuildServiceProvider();
        var db = services.GetRequiredService<IStatusDatabase>();
        var users = new List<User>();
        for (var w = 0; w < Writers; w++)
        {
            var user = Unique.Name("failover");
            users.Add(await db.Users.CreateAsync(user, "Failover", Unique.Email(user), "hash", null, Ct));
        }

        var acknowledged = new ConcurrentDictionary<string, Guid>();
        var acknowledgedAt = new ConcurrentDictionary<string, long>(); // Stopwatch ticks: for the report of a loss
        var notWritten = new ConcurrentBag<string>();
        var unknown = new ConcurrentBag<string>();
        var unexpected = new ConcurrentBag<Exception>();
        var failedCalls = new int[Writers];
        var firstSuccessAfter = new long[Writers]; // Stopwatch ticks of each writer's first post sent and acknowledged after the failure began
        var lastAck = new long[Writers];
        var longestGap = new long[Writers]; // the longest time a writer went without an acknowledged post: its outage
        var gapEnd = new long[Writers]; // when that outage ended
        var clock = Stopwatch.StartNew();
        long failedAt = long.MaxValue;
        using var stop = new CancellationTokenSource();

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(
            async () =>
            {
                for (var seq = 0; !stop.IsCancellationRequested; seq++)
                {
                    var message = $"{name} w{w} #{seq}";
                    try
                    {
                        var started = clock.ElapsedTicks;
                        var posted = await db.StatusUpdates.PostAsync(users[w].Id, message, "failover", XpPerPost, null, Ct);
                        acknowledged[message] = posted.StatusUpdate.Id;
                        var now = clock.ElapsedTicks;
                        acknowledgedAt[message] = now;
                        if (lastAck[w] != 0 && now - lastAck[w] > longestGap[w])
                        {
                            longestGap[w] = now - lastAck[w];
                            gapEnd[w] = now;
                        }

                        lastAck[w] = now;
                        if (started > Interlocked.Read(ref failedAt) && firstSuccessAfter[w] == 0)
                        {
                            firstSuccessAfter[w] = now;
                        }
                    }
                    catch (TransientDatabaseException e)
                    {
                        failedCalls[w]++;
                        (e.OutcomeUnknown ? unknown : notWritten).Add(message);
                        await Task.Delay(20, Ct);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        failedCalls[w]++;
                        unexpected.Add(e);
                        await Task.Delay(20, Ct);
                    }
                }
            },
            Ct)).ToList();

        AutoFailoverNode primary;
        TimeSpan promoted;
        long failedOverAt;
        try
        {
            await Task.Delay(Before, Ct);
            Assert.True(acknowledged.Count >= Writers, $"the writers did not get going before the failure: {acknowledged.Count} posts");
            Interlocked.Exchange(ref failedAt, clock.ElapsedTicks);
            primary = await fail();
            failedOverAt = clock.ElapsedTicks;
            promoted = Elapsed(failedOverAt - failedAt);
            await Task.Delay(After, Ct);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        // No raw Npgsql exception (or anything else) reached a writer: each failure was a StatusData exception.
        Assert.True(unexpected.IsEmpty, "not StatusData exceptions: " + string.Join(Environment.NewLine, unexpected.Select(e => $"{e.GetType()}: {e.Message}").Distinct()));

        // Read on the new primary alone.
        await using var newPrimary = NpgsqlDataSource.Create(AutoFailoverCluster.NodeConnectionString(primary));
        Assert.False(await Sql.ScalarAsync<bool>(newPrimary, "SELECT pg_is_in_recovery()"));
        var stored = new Dictionary<string, Guid>();
        await using (var command = newPrimary.CreateCommand("SELECT message, id FROM status_updates"))
        await using (var rows = await command.ExecuteReaderAsync(Ct))
        {
            while (await rows.ReadAsync(Ct))
            {
                // Add, not set: a message stored twice (a post doubled) fails here.
                stored.Add(rows.GetString(0), rows.GetGuid(1));
            }
        }

        var lost = acknowledged.Where(a => !stored.TryGetValue(a.Key, out var id) || id != a.Value).Select(a => a.Key).ToList();
        if (lost.Count > 0)
        {
            Assert.Fail(await DescribeLossAsync(cluster, primary, lost, acknowledged.Count, stored.Count, acknowledgedAt, failedAt, failedOverAt));
        }

        Assert.Equal(acknowledged.Count, acknowledged.Values.Distinct().Count());
        Assert.All(notWritten, message => Assert.False(stored.ContainsKey(message), $"post '{message}' failed as not written, but it is stored"));
        var unknownWritten = unknown.Count(stored.ContainsKey);
        Assert.Equal(acknowledged.Count + unknownWritten, stored.Count);
        foreach (var user in users)
        {
            var posts = await Sql.ScalarAsync<long>(newPrimary, "SELECT count(*) FROM status_updates WHERE user_id = $1", user.Id);
            var xp = await Sql.ScalarAsync<int>(newPrimary, "SELECT xp FROM users WHERE id = $1", user.Id);
            Assert.True(xp == XpPerPost * posts, $"{user.Username}: xp {xp}, but {posts} posts");
        }

        // Writes and reads resumed, through the same service provider: every writer posted again after the failure.
        Assert.All(firstSuccessAfter, (ticks, w) => Assert.True(ticks > 0, $"writer {w} never posted again after the failure"));
        Assert.NotEmpty((await db.StatusUpdates.GetFeedAsync(10, null, Ct)).Items);

        var resumed = gapEnd.Select(t => Elapsed(t - failedAt)).ToList();
        var stalled = longestGap.Select(Elapsed).ToList();
        var figures = string.Create(CultureInfo.InvariantCulture, $"""
            failover ({name}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC): {Writers} writers; {(name == "kill" ? "the monitor showed a new writable primary" : "pg_autoctl perform switchover had finished (old primary a standby again), new primary")} {primary.Name} {promoted.TotalSeconds:0.00} s after the failure began;
              writes resumed (each writer's first acknowledged post after its longest gap) {resumed.Min().TotalSeconds:0.00}-{resumed.Max().TotalSeconds:0.00} s after the failure began{(name == "kill" ? $", {(resumed.Max() - promoted).TotalSeconds:0.00} s after the monitor showed the new primary" : string.Empty)};
              longest time a writer went without an acknowledged post: {stalled.Max().TotalSeconds:0.00} s (per writer: {string.Join(", ", stalled.Select(g => g.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)))});
              acknowledged {acknowledged.Count}, lost 0; failed as not written {notWritten.Count}; outcome unknown {unknown.Count}, of which written {unknownWritten};
              failed calls per writer: {string.Join(", ", failedCalls)}
            """);
        TestContext.Current.TestOutputHelper?.WriteLine(figures);
        TestContext.Current.TestOutputHelper?.WriteLine("the monitor's events:\n" + await cluster.GetEventsAsync(Ct));
        var file = Path.Combine(Repository.Root, "artifacts", "failover-figures.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.AppendAllTextAsync(file, figures + Environment.NewLine, Ct);
    }

    /// <summary>
    /// What a loss needs to be understood: when the lost posts were acknowledged (against the failure and the
    /// engine's answer), whether the other node has them, and the monitor's history of the formation.
    /// </summary>
    private static async Task<string> DescribeLossAsync(
        AutoFailoverCluster cluster, AutoFailoverNode primary, List<string> lost, int acknowledged, int stored,
        ConcurrentDictionary<string, long> acknowledgedAt, long failedAt, long failedOverAt)
    {
        var at = lost.Select(m => Elapsed(acknowledgedAt[m] - failedAt).TotalSeconds).Order().ToList();
        string elsewhere;
        var other = cluster.Nodes.Single(n => n != primary);
        try
        {
            await using var node = NpgsqlDataSource.Create(AutoFailoverCluster.NodeConnectionString(other));
            var found = await Sql.ScalarAsync<long>(node, "SELECT count(*) FROM status_updates WHERE message = ANY($1)", [lost.ToArray()]);
            var recovery = await Sql.ScalarAsync<bool>(node, "SELECT pg_is_in_recovery()");
            elsewhere = $"{other.Name} ({(recovery ? "in recovery" : "writable")}) has {found} of them";
        }
        catch (NpgsqlException e)
        {
            elsewhere = $"{other.Name} could not be asked: {e.Message}";
        }

        var events = await cluster.GetEventsAsync();
        return string.Create(CultureInfo.InvariantCulture, $"""
            {lost.Count} of {acknowledged} acknowledged post(s) lost ({stored} stored on {primary.Name}): {string.Join(", ", lost.Take(10))}
            acknowledged {at[0]:0.00}-{at[^1]:0.00} s after the failure began; the engine had answered {Elapsed(failedOverAt - failedAt).TotalSeconds:0.00} s after it; {elsewhere}.
            the monitor's events:
            {events}
            {cluster.Logs()}
            """);
    }

    private static TimeSpan Elapsed(long stopwatchTicks) => TimeSpan.FromTicks(stopwatchTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
}
