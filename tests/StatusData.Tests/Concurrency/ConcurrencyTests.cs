namespace StatusData.Tests.Concurrency;

/// <summary>
/// Many writers at once against one database: posting (XP and streaks must come out exact), creating
/// users with the same username or email, and deleting a user while posts for them race.
/// </summary>
public sealed class ConcurrencyTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private const int Writers = 8;
    private const int PostsPerWriter = 500;

    /// <summary>
    /// The posting days of the "spanning days" variant, in order: six consecutive days, a gap of two,
    /// then four consecutive days. The longest streak is 6; the streak at the end is 4.
    /// </summary>
    private static readonly int[] DayOffsets = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11];

    private static readonly DateOnly FirstDay = new(2026, 3, 1);

    public static TheoryData<int, bool> Spreads => new()
    {
        { 1, false },
        { 1, true },
        { 8, false },
        { 8, true },
    };

    /// <summary>
    /// 8 writers x 500 posts, for one user or spread over 8 (every writer posts for every user, in
    /// turn). On one day, or spanning days: the posts of each day are made by all 8 writers at once,
    /// and a day starts when the previous one has ended, so the day of each post is deterministic and
    /// the streaks have one right answer, while every day still has 8 writers racing on each author row.
    /// </summary>
    [Theory]
    [MemberData(nameof(Spreads))]
    public async Task ConcurrentPostsGiveExactXpStreaksAndRowCounts(int userCount, bool spanningDays)
    {
        var db = new StatusDatabase(database.DataSource);
        var users = new List<User>();
        for (var i = 0; i < userCount; i++)
        {
            var name = Unique.Name("writer");
            users.Add(await db.Users.CreateAsync(name, "Writer", Unique.Email(name), "hash", null, Ct));
        }

        var days = spanningDays ? DayOffsets : [0];
        var postsPerWriterPerDay = PostsPerWriter / days.Length;
        var expectedXp = new long[userCount];
        var expectedPosts = new long[userCount];
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        foreach (var offset in days)
        {
            var day = FirstDay.AddDays(offset);
            var writers = Enumerable.Range(0, Writers).Select(writer => Task.Run(
                async () =>
                {
                    for (var i = 0; i < postsPerWriterPerDay; i++)
                    {
                        var author = (writer + i) % userCount;
                        var posted = await db.StatusUpdates.PostAsync(users[author].Id, $"w{writer} d{offset} #{i}", "load", Xp(writer, i), day, Ct);
                        acknowledged.Add(posted.StatusUpdate.Id);
                    }
                },
                Ct));
            await Task.WhenAll(writers);
            for (var writer = 0; writer < Writers; writer++)
            {
                for (var i = 0; i < postsPerWriterPerDay; i++)
                {
                    expectedXp[(writer + i) % userCount] += Xp(writer, i);
                    expectedPosts[(writer + i) % userCount]++;
                }
            }
        }

        Assert.Equal(Writers * postsPerWriterPerDay * days.Length, acknowledged.Count);
        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());
        var (expectedCurrent, expectedLongest) = spanningDays ? (4, 6) : (1, 1);
        for (var u = 0; u < userCount; u++)
        {
            var stored = await db.Users.GetByIdAsync(users[u].Id, Ct);
            Assert.NotNull(stored);
            Assert.Equal(expectedXp[u], stored.Xp);
            Assert.Equal(expectedCurrent, stored.CurrentStreak);
            Assert.Equal(expectedLongest, stored.LongestStreak);
            Assert.Equal(FirstDay.AddDays(days[^1]), stored.LastPostDate);
            Assert.Equal(expectedPosts[u], await Sql.ScalarAsync<long>(database.DataSource, "SELECT count(*) FROM status_updates WHERE user_id = $1", users[u].Id));
        }

        // Every acknowledged post is there, and nothing else was written for these users.
        var ids = users.Select(u => u.Id).ToArray();
        var stored2 = await Sql.ColumnAsync<Guid>(database.DataSource, "SELECT id FROM status_updates WHERE user_id = ANY($1)", ids);
        Assert.Equal(acknowledged.Order(), stored2.Order());

        static int Xp(int writer, int i) => ((writer * 31) + i) % 7 + 1;
    }

    [Fact]
    public async Task OfParallelCreatesWithOneUsernameExactlyOneSucceedsAndTheRestAreDuplicateUsername()
    {
        var db = new StatusDatabase(database.DataSource);
        for (var round = 0; round < 10; round++)
        {
            var username = Unique.Name("same");
            var results = await RaceAsync(Enumerable.Range(0, Writers).Select(i => (Func<Task<User>>)(() =>
                db.Users.CreateAsync(username, "Racer", Unique.Email(Unique.Name("racer")), "hash", null, Ct))));

            var winner = Assert.Single(results, r => r.Value is not null).Value!;
            Assert.All(results.Where(r => r.Value is null), r => Assert.Equal("username", Assert.IsType<DuplicateValueException>(r.Error).Field));
            Assert.Equal(1L, await Sql.ScalarAsync<long>(database.DataSource, "SELECT count(*) FROM users WHERE username = $1", username));
            Assert.Equal(winner, await db.Users.GetByUsernameAsync(username, Ct));
        }
    }

    [Fact]
    public async Task OfParallelCreatesWithOneEmailExactlyOneSucceedsAndTheRestAreDuplicateEmail()
    {
        var db = new StatusDatabase(database.DataSource);
        for (var round = 0; round < 10; round++)
        {
            var email = Unique.Email(Unique.Name("same"));
            var results = await RaceAsync(Enumerable.Range(0, Writers).Select(i => (Func<Task<User>>)(() =>
                db.Users.CreateAsync(Unique.Name("racer"), "Racer", email, "hash", null, Ct))));

            Assert.Single(results, r => r.Value is not null);
            Assert.All(results.Where(r => r.Value is null), r => Assert.Equal("email", Assert.IsType<DuplicateValueException>(r.Error).Field));
            Assert.Equal(1L, await Sql.ScalarAsync<long>(database.DataSource, "SELECT count(*) FROM users WHERE email = $1", email));
        }
    }

    /// <summary>
    /// A user is deleted while 8 writers keep posting for them. Each post either committed before the
    /// delete (and its row went with the user) or failed with <see cref="UserNotFoundException"/>;
    /// nothing else may happen, and no status update may outlive its author.
    /// </summary>
    [Fact]
    public async Task DeletingAUserWhilePostsRaceNeverLeavesAnOrphanOrAHalfState()
    {
        var db = new StatusDatabase(database.DataSource);
        var committedBeforeDelete = 0;
        var refused = 0;
        for (var round = 0; round < 100; round++)
        {
            var name = Unique.Name("doomed");
            var user = await db.Users.CreateAsync(name, "Doomed", Unique.Email(name), "hash", null, Ct);
            await db.StatusUpdates.PostAsync(user.Id, "before the race", "general", 1, null, Ct);

            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var posted = new System.Collections.Concurrent.ConcurrentBag<Guid>();
            var writers = Enumerable.Range(0, Writers).Select(writer => Task.Run(
                async () =>
                {
                    await gate.Task;
                    for (var i = 0; i < 25; i++)
                    {
                        try
                        {
                            posted.Add((await db.StatusUpdates.PostAsync(user.Id, $"racing {writer}/{i}", "general", 1, null, Ct)).StatusUpdate.Id);
                        }
                        catch (UserNotFoundException e) when (e.UserId == user.Id)
                        {
                            Interlocked.Increment(ref refused);
                            return;
                        }
                    }
                },
                Ct)).ToList();
            var delete = Task.Run(
                async () =>
                {
                    await gate.Task;
                    await Task.Yield();
                    return await db.Users.DeleteAsync(user.Id, Ct);
                },
                Ct);
            gate.SetResult();

            Assert.True(await delete);
            await Task.WhenAll(writers);
            committedBeforeDelete += posted.Count;

            // The user is gone, and with them every post that had committed: no half state.
            Assert.Null(await db.Users.GetByIdAsync(user.Id, Ct));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(database.DataSource, "SELECT count(*) FROM status_updates WHERE user_id = $1", user.Id));
            Assert.Equal(0L, await Sql.ScalarAsync<long>(database.DataSource, "SELECT count(*) FROM status_updates WHERE id = ANY($1)", posted.ToArray()));
            Assert.Equal(0L, await Sql.OrphansAsync(database.DataSource));
        }

        // The race really happened both ways across the rounds.
        Assert.True(refused > 0, "no post ever lost the race to the delete");
        Assert.True(committedBeforeDelete > 0, "no post ever won the race against the delete");
    }

    private static async Task<List<(T? Value, Exception? Error)>> RaceAsync<T>(IEnumerable<Func<Task<T>>> calls)
        where T : class
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = calls.Select(call => Task.Run(async () =>
        {
            await gate.Task;
            try
            {
                return ((T?)await call(), (Exception?)null);
            }
            catch (StatusDataException e)
            {
                return (null, e);
            }
        })).ToList();
        gate.SetResult();
        return [.. await Task.WhenAll(tasks)];
    }
}
