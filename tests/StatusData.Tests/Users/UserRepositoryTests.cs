using Npgsql;

namespace StatusData.Tests.Users;

public sealed class UserRepositoryTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 3, 1, 12, 30, 45, TimeSpan.Zero).AddTicks(1234567);
    private readonly ManualClock _clock = new(T0);

    private StatusDatabase Db => new(database.DataSource, timeProvider: _clock);

    [Fact]
    public async Task CreateStoresEveryColumnWithZeroedCountersAndTheClocksUtcTime()
    {
        var name = Unique.Name();
        var user = await Db.Users.CreateAsync(name, "Ada L.", Unique.Email(name), "hash-1", "https://example.com/a.png", Ct);

        Assert.Equal(7, user.Id.Version); // UUIDv7
        Assert.Equal((0, 0, 0), (user.Xp, user.CurrentStreak, user.LongestStreak));
        Assert.Null(user.LastPostDate);
        Assert.Equal(DateTimeKind.Utc, user.CreatedAt.Kind);
        Assert.Equal(T0.UtcDateTime.Ticks / 10, user.CreatedAt.Ticks / 10); // microseconds, as stored
        Assert.Equal(user, await Db.Users.GetByIdAsync(user.Id, Ct));

        await using var command = database.DataSource.CreateCommand("SELECT created_at = $1, xp, avatar_url FROM users WHERE id = $2");
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = user.CreatedAt });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = user.Id });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.True(reader.GetBoolean(0));
        Assert.Equal(0, reader.GetInt32(1));
        Assert.Equal("https://example.com/a.png", reader.GetString(2));
    }

    [Fact]
    public async Task UsersAreFoundByIdUsernameAndEmailAndMissingOnesAreNull()
    {
        var name = Unique.Name();
        var user = await Db.Users.CreateAsync(name, "Bob", Unique.Email(name), "hash", null, Ct);

        Assert.Equal(user, await Db.Users.GetByUsernameAsync(name, Ct));
        Assert.Equal(user, await Db.Users.GetByEmailAsync(Unique.Email(name), Ct));
        Assert.Null(await Db.Users.GetByIdAsync(Guid.NewGuid(), Ct));
        Assert.Null(await Db.Users.GetByUsernameAsync(name.ToUpperInvariant(), Ct)); // exact, as the unique constraint
        Assert.Null(await Db.Users.GetByEmailAsync("nobody@example.com", Ct));
    }

    [Fact]
    public async Task ADuplicateUsernameIsReportedAsTheUsernameFieldAndWritesNothing()
    {
        var name = Unique.Name();
        await Db.Users.CreateAsync(name, "First", Unique.Email(name), "hash", null, Ct);
        var before = await CountUsersAsync();

        var error = await Assert.ThrowsAsync<DuplicateValueException>(() => Db.Users.CreateAsync(name, "Second", Unique.Email(Unique.Name()), "hash", null, Ct));

        Assert.Equal("username", error.Field);
        Assert.Contains("username", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await CountUsersAsync());
    }

    [Fact]
    public async Task ADuplicateEmailIsReportedAsTheEmailFieldAndWritesNothing()
    {
        var name = Unique.Name();
        await Db.Users.CreateAsync(name, "First", Unique.Email(name), "hash", null, Ct);
        var before = await CountUsersAsync();

        var error = await Assert.ThrowsAsync<DuplicateValueException>(() => Db.Users.CreateAsync(Unique.Name(), "Second", Unique.Email(name), "hash", null, Ct));

        Assert.Equal("email", error.Field);
        Assert.Equal(before, await CountUsersAsync());
    }

    [Fact]
    public async Task UpdateProfileReplacesDisplayNameEmailAndAvatarOnly()
    {
        var name = Unique.Name();
        var user = await Db.Users.CreateAsync(name, "Old", Unique.Email(name), "hash", "https://a", Ct);
        var newEmail = Unique.Email(Unique.Name());

        var updated = await Db.Users.UpdateProfileAsync(user.Id, "New", newEmail, null, Ct);

        Assert.Equal(user with { DisplayName = "New", Email = newEmail, AvatarUrl = null }, updated);
        Assert.Equal(updated, await Db.Users.GetByIdAsync(user.Id, Ct));
    }

    [Fact]
    public async Task UpdateProfileToATakenEmailFailsAndKeepsTheOldProfile()
    {
        var taken = Unique.Name();
        await Db.Users.CreateAsync(taken, "Taken", Unique.Email(taken), "hash", null, Ct);
        var name = Unique.Name();
        var user = await Db.Users.CreateAsync(name, "Mine", Unique.Email(name), "hash", null, Ct);

        var error = await Assert.ThrowsAsync<DuplicateValueException>(() => Db.Users.UpdateProfileAsync(user.Id, "Changed", Unique.Email(taken), null, Ct));

        Assert.Equal("email", error.Field);
        Assert.Equal(user, await Db.Users.GetByIdAsync(user.Id, Ct));
    }

    [Fact]
    public async Task UpdatingAMissingUserThrowsNotFound()
    {
        var id = Guid.NewGuid();
        var error = await Assert.ThrowsAsync<UserNotFoundException>(() => Db.Users.UpdateProfileAsync(id, "X", "x@example.com", null, Ct));
        Assert.Equal(id, error.UserId);
        await Assert.ThrowsAsync<UserNotFoundException>(() => Db.Users.SetPasswordHashAsync(id, "hash", Ct));
    }

    [Fact]
    public async Task SetPasswordHashReplacesOnlyTheHash()
    {
        var name = Unique.Name();
        var user = await Db.Users.CreateAsync(name, "P", Unique.Email(name), "old-hash", null, Ct);

        await Db.Users.SetPasswordHashAsync(user.Id, "new-hash", Ct);

        Assert.Equal(user with { PasswordHash = "new-hash" }, await Db.Users.GetByIdAsync(user.Id, Ct));
    }

    [Fact]
    public async Task DeletingAUserDeletesTheirStatusUpdatesAndNobodyElses()
    {
        var doomed = await CreateUserAsync();
        var other = await CreateUserAsync();
        for (var i = 0; i < 3; i++)
        {
            await Db.StatusUpdates.PostAsync(doomed.Id, $"post {i}", "life", 5, null, Ct);
        }

        var kept = await Db.StatusUpdates.PostAsync(other.Id, "stays", "life", 5, null, Ct);

        Assert.True(await Db.Users.DeleteAsync(doomed.Id, Ct));

        Assert.Null(await Db.Users.GetByIdAsync(doomed.Id, Ct));
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM status_updates WHERE user_id = $1", doomed.Id));
        Assert.Equal(kept, await Db.StatusUpdates.GetByIdAsync(kept.StatusUpdate.Id, Ct));
        Assert.False(await Db.Users.DeleteAsync(doomed.Id, Ct));
    }

    [Fact]
    public async Task ManyUsersWithTheirUpdatesComeInTheRequestedOrderNewestUpdateFirst()
    {
        var a = await CreateUserAsync();
        var b = await CreateUserAsync();
        var silent = await CreateUserAsync();
        var posts = new List<StatusUpdate>();
        foreach (var author in new[] { a, b, a, b, a })
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            posts.Add((await Db.StatusUpdates.PostAsync(author.Id, "m", "c", 1, null, Ct)).StatusUpdate);
        }

        var result = await Db.Users.GetManyWithStatusUpdatesAsync([b.Id, Guid.NewGuid(), silent.Id, a.Id, b.Id], Ct);

        Assert.Equal([b.Id, silent.Id, a.Id], result.Select(r => r.User.Id));
        Assert.Equal(posts.Where(p => p.UserId == b.Id).Reverse(), result[0].StatusUpdates);
        Assert.Empty(result[1].StatusUpdates);
        Assert.Equal(posts.Where(p => p.UserId == a.Id).Reverse(), result[2].StatusUpdates);
        Assert.Equal(result[2].StatusUpdates, (await Db.Users.GetWithStatusUpdatesAsync(a.Id, Ct))!.StatusUpdates);
        Assert.Null(await Db.Users.GetWithStatusUpdatesAsync(Guid.NewGuid(), Ct));
        Assert.Empty(await Db.Users.GetManyWithStatusUpdatesAsync([], Ct));
    }

    /// <summary>Prepared statements read by ordinal: every column round-trips, NULLs included.</summary>
    [Fact]
    public async Task EveryColumnRoundTripsWithAndWithoutAnAvatar()
    {
        var db = new StatusDatabase(database.DataSource);
        foreach (var avatar in new[] { null, "https://cdn.example.com/a.png" })
        {
            var name = Unique.Name();
            var created = await db.Users.CreateAsync(name, "Display " + name, Unique.Email(name), "hash-" + name, avatar, Ct);
            Assert.Equal(DateTimeKind.Utc, created.CreatedAt.Kind);
            Assert.Equal(created, await db.Users.GetByIdAsync(created.Id, Ct));
            Assert.Equal(created, await db.Users.GetByUsernameAsync(name, Ct));
            Assert.Equal(created, await db.Users.GetByEmailAsync(Unique.Email(name), Ct));
            Assert.Null(await db.Users.GetByIdAsync(Guid.NewGuid(), Ct));

            var updated = await db.Users.UpdateProfileAsync(created.Id, "Renamed", Unique.Email(name + "x"), avatar is null ? "https://cdn.example.com/b.png" : null, Ct);
            Assert.Equal(updated, await db.Users.GetByIdAsync(created.Id, Ct));
            Assert.Equal(avatar is null ? "https://cdn.example.com/b.png" : null, updated.AvatarUrl);
            await db.Users.SetPasswordHashAsync(created.Id, "new-hash", Ct);
            Assert.Equal("new-hash", (await db.Users.GetByIdAsync(created.Id, Ct))!.PasswordHash);
        }
    }

    /// <summary>Prepared statements still turn the server's errors into StatusData's exceptions.</summary>
    [Fact]
    public async Task ErrorsStillBecomeStatusDataExceptions()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);

        var duplicate = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, name, Unique.Email(Unique.Name()), "hash", null, Ct));
        Assert.Equal("username", duplicate.Field);
        var other = Unique.Name();
        await db.Users.CreateAsync(other, other, Unique.Email(other), "hash", null, Ct);
        var taken = await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.UpdateProfileAsync(user.Id, "x", Unique.Email(other), null, Ct));
        Assert.Equal("email", taken.Field);

        var missing = Guid.NewGuid();
        Assert.Equal(missing, (await Assert.ThrowsAsync<UserNotFoundException>(() => db.StatusUpdates.PostAsync(missing, "hi", "general", 1, null, Ct))).UserId);
        await Assert.ThrowsAsync<UserNotFoundException>(() => db.Users.UpdateProfileAsync(missing, "x", Unique.Email(Unique.Name()), null, Ct));
        await Assert.ThrowsAsync<UserNotFoundException>(() => db.Users.SetPasswordHashAsync(missing, "x", Ct));
    }

    private async Task<User> CreateUserAsync()
    {
        var name = Unique.Name();
        return await Db.Users.CreateAsync(name, name, Unique.Email(name), "hash", null, Ct);
    }

    private Task<long> CountUsersAsync() => ScalarAsync<long>("SELECT count(*) FROM users");

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync(Ct))!;
    }
}
