namespace StatusData.Tests.Validation;

/// <summary>Bad input is rejected before the database, naming the parameter; lengths count code points as PostgreSQL does.</summary>
public sealed class ValidationTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private StatusDatabase Db => new(database.DataSource);

    [Fact]
    public async Task FiftyEmojiFitAVarchar50UsernameThoughDotnetCountsAHundredChars()
    {
        var emoji = string.Concat(Enumerable.Repeat("😀", 50));
        Assert.Equal(100, emoji.Length);

        var user = await Db.Users.CreateAsync(emoji, "E", Unique.Email(Unique.Name()), "hash", null, Ct);

        Assert.Equal(emoji, (await Db.Users.GetByIdAsync(user.Id, Ct))!.Username);
    }

    [Theory]
    [InlineData("username", 51)]
    [InlineData("displayName", 101)]
    [InlineData("email", 256)]
    [InlineData("passwordHash", 256)]
    [InlineData("avatarUrl", 501)]
    public async Task OneCodePointOverTheColumnLimitIsRejectedWithTheParameterName(string parameter, int length)
    {
        var tooLong = string.Concat(Enumerable.Repeat("é", length));
        var name = Unique.Name();
        string Value(string p, string fallback) => p == parameter ? tooLong : fallback;

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Db.Users.CreateAsync(
            Value("username", name), Value("displayName", "D"), Value("email", Unique.Email(name)), Value("passwordHash", "hash"), parameter == "avatarUrl" ? tooLong : null, Ct));

        Assert.Equal(parameter, error.ParamName);
        Assert.Contains($"{length} characters", error.Message, StringComparison.Ordinal);
        Assert.Null(await Db.Users.GetByUsernameAsync(name, Ct));
    }

    // Built here, not in InlineData: theory data is serialized, and lone surrogates would not survive it.
    [Theory]
    [InlineData("nul", "NUL")]
    [InlineData("high-surrogate", "surrogate")]
    [InlineData("low-surrogate", "surrogate")]
    [InlineData("spaces", "whitespace")]
    [InlineData("empty", "whitespace")]
    public async Task InvalidTextIsRejectedBeforeTheDatabaseAndTheConnectionStaysUsable(string kind, string expected)
    {
        var bad = kind switch
        {
            "nul" => "a\0b",
            "high-surrogate" => "a" + (char)0xD800 + "b",
            "low-surrogate" => "a" + (char)0xDC00,
            "spaces" => " \t\n ",
            _ => string.Empty,
        };
        var user = await Db.Users.CreateAsync(Unique.Name(), "V", Unique.Email(Unique.Name()), "hash", null, Ct);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Db.StatusUpdates.PostAsync(user.Id, bad, "c", 1, null, Ct));

        Assert.Equal("message", error.ParamName);
        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(user, await Db.Users.GetByIdAsync(user.Id, Ct));
        Assert.Empty((await Db.StatusUpdates.ListByUserAsync(user.Id, 10, null, Ct)).Items);
    }

    [Fact]
    public async Task MessagesLongerThanTheConfiguredCapAreRejected()
    {
        var options = new StatusDataOptions { MaxMessageLength = 10 };
        var capped = new StatusDatabase(database.DataSource, options);
        options.MaxMessageLength = 1000; // copied by the constructor: no effect
        var user = await capped.Users.CreateAsync(Unique.Name(), "C", Unique.Email(Unique.Name()), "hash", null, Ct);

        await capped.StatusUpdates.PostAsync(user.Id, "0123456789", "c", 1, null, Ct);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => capped.StatusUpdates.PostAsync(user.Id, "0123456789X", "c", 1, null, Ct));

        Assert.Equal("message", error.ParamName);
        var invalid = Assert.Throws<ArgumentOutOfRangeException>(() => new StatusDatabase(database.DataSource, new StatusDataOptions { MaxMessageLength = 0 }));
        Assert.Equal(("MaxMessageLength", (object?)0), (invalid.ParamName, invalid.ActualValue));
    }
}
