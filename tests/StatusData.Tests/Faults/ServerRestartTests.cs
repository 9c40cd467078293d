using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using StatusData.Migrations;

namespace StatusData.Tests.Faults;

/// <summary>
/// The server restarts (pg_ctl stop -m fast, a second down, start on the same port) while writers and
/// a reader keep working through one StatusDatabase. The test owns its own throwaway cluster, so
/// nothing else in the run is disturbed.
/// </summary>
[Trait("Category", "Slow")] // its own server, stopped and restarted under load
public sealed class ServerRestartTests
{
    private const int Writers = 4;

    [Fact]
    public async Task AfterARestartTheSameDataSourceRecoversAndEveryWriteIsEitherAcknowledgedAndStoredOrReportedAsFailed()
    {
        await using var server = await ThrowawayPostgresServer.StartAsync(Ct);
        await new StatusDataMigrator(server.AdminConnectionString).UpAsync(cancellationToken: Ct);

        var builder = new NpgsqlDataSourceBuilder(server.AdminConnectionString);
        builder.ConnectionStringBuilder.ApplicationName = "reliability-restart";
        await using var dataSource = builder.Build();
        var db = new StatusDatabase(dataSource, new StatusDataOptions { ReadAttempts = 3 });
        var users = new List<User>();
        for (var w = 0; w < Writers; w++)
        {
            var name = Unique.Name("restart");
            users.Add(await db.Users.CreateAsync(name, "Restart", Unique.Email(name), "hash", null, Ct));
        }

        var acknowledged = new ConcurrentDictionary<string, Guid>();
        var failedNothingWritten = new ConcurrentBag<string>();
        var failedOutcomeUnknown = new ConcurrentBag<string>();
        var unexpected = new ConcurrentBag<Exception>();
        var successes = new int[Writers + 1];
        using var stop = new CancellationTokenSource();

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(
            async () =>
            {
                for (var seq = 0; !stop.IsCancellationRequested; seq++)
                {
                    var message = $"w{w} #{seq}";
                    try
                    {
                        var posted = await db.StatusUpdates.PostAsync(users[w].Id, message, "restart", 1, null, Ct);
                        acknowledged[message] = posted.StatusUpdate.Id;
                        Interlocked.Increment(ref successes[w]);
                    }
                    catch (TransientDatabaseException e)
                    {
                        (e.OutcomeUnknown ? failedOutcomeUnknown : failedNothingWritten).Add(message);
                        await Task.Delay(50, Ct);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        unexpected.Add(e);
                        return;
                    }
                }
            },
            Ct)).ToList();
        var reader = Task.Run(
            async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await db.StatusUpdates.GetFeedAsync(20, null, Ct);
                        Interlocked.Increment(ref successes[Writers]);
                    }
                    catch (TransientDatabaseException)
                    {
                        await Task.Delay(50, Ct);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        unexpected.Add(e);
                        return;
                    }
                }
            },
            Ct);

        try
        {
            await WaitUntilAsync(() => successes.All(s => s >= 20), "every worker succeeded 20 times before the restart");
            var pidBefore = server.ProcessId;
            await server.RestartAsync(TimeSpan.FromSeconds(1), Ct);
            Assert.NotEqual(pidBefore, server.ProcessId);

            // Recovery: every worker succeeds another 20 times, on the same StatusDatabase and data source.
            var atRestart = successes.ToArray();
            await WaitUntilAsync(() => successes.Select((s, i) => s - atRestart[i]).All(d => d >= 20), "every worker succeeded 20 more times after the restart");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers.Append(reader));
        }

        Assert.Empty(unexpected);
        Assert.True(failedNothingWritten.Count + failedOutcomeUnknown.Count > 0, "the restart went unnoticed: no call failed");

        var stored = new Dictionary<string, Guid>();
        await using (var command = dataSource.CreateCommand("SELECT message, id FROM status_updates"))
        await using (var rows = await command.ExecuteReaderAsync(Ct))
        {
            while (await rows.ReadAsync(Ct))
            {
                stored.Add(rows.GetString(0), rows.GetGuid(1));
            }
        }

        // Nothing acknowledged was lost, and under the id that was acknowledged.
        foreach (var (message, id) in acknowledged)
        {
            Assert.True(stored.TryGetValue(message, out var storedId) && storedId == id, $"acknowledged post '{message}' is missing");
        }

        // A failure that said "nothing was written" wrote nothing; "outcome unknown" may be either.
        Assert.All(failedNothingWritten, message => Assert.False(stored.ContainsKey(message), $"post '{message}' failed as not written, but it is stored"));
        var unknownButStored = failedOutcomeUnknown.Count(stored.ContainsKey);

        // Nothing silently appeared: every stored row was acknowledged or reported as outcome-unknown.
        Assert.Equal(acknowledged.Count + unknownButStored, stored.Count);

        // And no half writes: each author's XP (1 per post) matches their rows exactly.
        foreach (var user in users)
        {
            var now = (await db.Users.GetByIdAsync(user.Id, Ct))!;
            Assert.Equal(await Sql.ScalarAsync<long>(dataSource, "SELECT count(*) FROM status_updates WHERE user_id = $1", user.Id), now.Xp);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"restart: {acknowledged.Count} acknowledged, {failedNothingWritten.Count} failed (nothing written), {failedOutcomeUnknown.Count} outcome unknown ({unknownButStored} of them stored)");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "timed out waiting until " + what);
            await Task.Delay(20, Ct);
        }
    }
}
