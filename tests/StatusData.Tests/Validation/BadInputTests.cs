using System.Globalization;
using System.Text;
using Npgsql;

namespace StatusData.Tests.Validation;

/// <summary>
/// A corpus of bad input for every write method (and every page cursor): each is an
/// <see cref="ArgumentException"/> naming the parameter, nothing is written, and the connection goes
/// on working. The library runs over a pool of ONE connection, so "the next call succeeds" proves the
/// very connection that saw the bad input is still usable. And a corpus of awkward but valid input
/// (right-to-left text, combining marks, emoji, SQL metacharacters and injection strings) that is
/// accepted and comes back exactly as given, with the tables intact.
/// </summary>
public sealed class BadInputTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>, IAsyncLifetime
{
    private const string Emoji = "\U0001F600"; // one code point, two UTF-16 chars

    private static readonly Dictionary<string, BadCase> BadCases = BuildBadCases();

    private NpgsqlDataSource? _dataSource;
    private StatusDatabase? _db;
    private User? _victim;

    public static TheoryData<string> BadCaseNames => [.. BadCases.Keys];

    public static TheoryData<string> AwkwardValues =>
    [
        "שלום עולם",                              // Hebrew, right to left
        "مرحبا بالعالم",                          // Arabic, right to left
        "\u202Egnp.exe\u202C and \u200Fmarks\u200E", // RLO override, RLM/LRM marks
        "e\u0301 vs \u00E9",                      // decomposed and precomposed é: stored as given, not normalized
        "Z\u0351\u0352\u0353\u0354a\u0300\u0301\u0302l", // stacked combining marks
        "\u0915\u094D\u0937",                     // Devanagari conjunct
        "👩‍👩‍👧‍👦 🇮🇳 👍🏽 " + Emoji,               // ZWJ sequence, flag, skin tone
        "\uDBFF\uDFFF \uFFFF \u0001 \u007F",      // U+10FFFF, a noncharacter, control characters other than NUL
        "'; DROP TABLE users; --",
        "\"; DELETE FROM status_updates; --",
        "' OR '1'='1",
        "$1",
        "@id",
        ":id ? {0} ${x}",
        "\\",
        "\\x00 E'\\\\' /* */",
        "%",
        "_",
        "COPY users TO '/tmp/x'",
    ];

    public static TheoryData<string> BoundaryTargets => [.. Targets().Select(t => t.Name)];

    private StatusDatabase Db => _db!;

    private User Victim => _victim!;

    private NpgsqlDataSource Admin => database.DataSource;

    public async ValueTask InitializeAsync()
    {
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = 1;
        _dataSource = builder.Build();
        _db = new StatusDatabase(_dataSource);
        var name = Unique.Name("victim");
        _victim = await _db.Users.CreateAsync(name, "Victim", Unique.Email(name), "hash", "https://example.com/a.png", Ct);
        await _db.StatusUpdates.PostAsync(_victim.Id, "existing", "general", 3, null, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(BadCaseNames))]
    public async Task BadInputIsAnArgumentExceptionNamingTheParameterWritesNothingAndTheConnectionStaysUsable(string caseName)
    {
        var bad = BadCases[caseName];
        var before = await Sql.SnapshotAsync(Admin);

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => bad.Call(Db, Victim, Ct));

        Assert.Equal(bad.ParamName, error.ParamName);
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));

        // The one pooled connection is fine: the next call on it succeeds.
        var posted = await Db.StatusUpdates.PostAsync(Victim.Id, "next call", "general", 1, null, Ct);
        Assert.Equal(posted, await Db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
    }

    [Theory]
    [MemberData(nameof(BadCaseNames))]
    public async Task BadInputInsideACallersTransactionLeavesTheTransactionUsable(string caseName)
    {
        var bad = BadCases[caseName];
        var before = await Sql.SnapshotAsync(Admin);
        StatusUpdateWithAuthor posted;

        var transaction = await Db.BeginTransactionAsync(Ct);
        await using (transaction)
        {
            var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => bad.Call(new TransactionDatabase(transaction), Victim, Ct));
            Assert.Equal(bad.ParamName, error.ParamName);
            posted = await transaction.StatusUpdates.PostAsync(Victim.Id, "in the same transaction", "general", 1, null, Ct);
            await transaction.CommitAsync(Ct);
        }

        var after = await Sql.SnapshotAsync(Admin);
        Assert.NotEqual(before, after);
        Assert.Equal(posted, await Db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        Assert.Equal(before.Split('\n').Length + 1, after.Split('\n').Length); // exactly one more row: the post
    }

    [Theory]
    [MemberData(nameof(BoundaryTargets))]
    public async Task ExactlyTheMaximumInCodePointsIsAcceptedEvenAsEmojiAndRoundTrips(string targetName)
    {
        var target = Targets().Single(t => t.Name == targetName);

        // A unique prefix (usernames and emails are unique), filled up with emoji to exactly the maximum.
        var prefix = Unique.Name("b") + "@";
        var value = prefix + string.Concat(Enumerable.Repeat(Emoji, target.MaxLength - prefix.Length));
        Assert.Equal(target.MaxLength, CodePoints(value));
        Assert.True(value.Length > target.MaxLength, "the .NET length exceeds the maximum; the code-point length does not");

        Assert.Equal(value, await target.WriteAndReadBack(Db, Victim, value, Ct));
    }

    [Theory]
    [MemberData(nameof(AwkwardValues))]
    public async Task AwkwardTextIsStoredVerbatimByEveryWriteMethodAndTheTablesStayIntact(string value)
    {
        foreach (var target in Targets())
        {
            // Unique columns get a unique prefix; everything else is exactly the value (categories: its first 20 code points).
            var given = target.Unique ? Unique.Name("v") + value : Truncate(value, target.MaxLength);
            Assert.Equal(given, await target.WriteAndReadBack(Db, Victim, given, Ct));
        }

        // Exact lookups stay exact: '%' and '_' are no wildcards, quotes end nothing.
        var category = Truncate(value, 20);
        var byCategory = await Db.StatusUpdates.ListByCategoryAsync(category, 1000, null, Ct);
        Assert.NotEmpty(byCategory.Items);
        Assert.All(byCategory.Items, s => Assert.Equal(category, s.Category));
        Assert.Equal(
            await Sql.ScalarAsync<long>(Admin, "SELECT count(*) FROM status_updates WHERE category = $1", category),
            byCategory.Items.Count);
        Assert.Null(await Db.Users.GetByUsernameAsync(value, Ct));

        // The tables are intact, and so is the victim.
        Assert.Equal(2L, await Sql.ScalarAsync<long>(Admin, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('users', 'status_updates')"));
        Assert.NotNull(await Db.Users.GetByIdAsync(Victim.Id, Ct));
        Assert.Equal(0L, await Sql.OrphansAsync(Admin));
    }

    [Fact]
    public async Task AOneMegabyteMessageIsRejectedByDefaultAndAcceptedWhenTheCapIsRaised()
    {
        var message = new string('m', 1_000_000);
        var before = await Sql.SnapshotAsync(Admin);

        var post = await Assert.ThrowsAnyAsync<ArgumentException>(() => Db.StatusUpdates.PostAsync(Victim.Id, message, "big", 1, null, Ct));
        Assert.Equal("message", post.ParamName);
        Assert.Contains("5000", post.Message, StringComparison.Ordinal);
        var import = await Assert.ThrowsAnyAsync<ArgumentException>(() => Db.StatusUpdates.ImportAsync([new StatusUpdate(Guid.CreateVersion7(), Victim.Id, message, "big", DateTime.UtcNow)], Ct));
        Assert.Equal("statusUpdates[0].Message", import.ParamName);
        Assert.Equal(before, await Sql.SnapshotAsync(Admin));

        var raised = new StatusDatabase(_dataSource!, new StatusDataOptions { MaxMessageLength = StatusDataOptions.MessageLengthLimit });
        var posted = await raised.StatusUpdates.PostAsync(Victim.Id, message, "big", 1, null, Ct);
        Assert.Equal(message, (await raised.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct))!.StatusUpdate.Message);
        var row = new StatusUpdate(Guid.CreateVersion7(), Victim.Id, message + "!", "big", DateTime.UtcNow);
        Assert.Equal(1, await raised.StatusUpdates.ImportAsync([row], Ct));
        Assert.Equal(message + "!", (await raised.StatusUpdates.GetByIdAsync(row.Id, Ct))!.StatusUpdate.Message);
    }

    private static Dictionary<string, BadCase> BuildBadCases()
    {
        var values = new (string Name, Func<int, string?> Make, bool ForOptional)[]
        {
            ("null", _ => null, false),
            ("empty", _ => string.Empty, true),
            ("whitespace only", _ => " \t\r\n\u00A0\u3000", true),
            ("NUL", _ => "before\0after", true),
            ("high surrogate alone", _ => "a\uD83Db", true),
            ("high surrogate at the end", _ => "ab\uD83D", true),
            ("low surrogate alone", _ => "a\uDE00b", true),
            ("surrogates swapped", _ => "\uDE00\uD83D", true),
            ("one code point too long (emoji)", max => string.Concat(Enumerable.Repeat(Emoji, max + 1)), true),
            ("one code point too long (ASCII)", max => new string('x', max + 1), true),
        };
        var cases = new Dictionary<string, BadCase>();
        foreach (var target in Targets())
        {
            foreach (var (name, make, forOptional) in values)
            {
                if (target.Optional && !forOptional)
                {
                    continue;
                }

                cases.Add($"{target.Name} = {name}", new BadCase(target.ParamName, (db, victim, Ct) => target.Write(db, victim, make(target.MaxLength), Ct)));
            }
        }

        static StatusUpdate[] Rows(User victim, DateTime createdAt) =>
        [
            new StatusUpdate(Guid.CreateVersion7(), victim.Id, "valid row 0", "general", DateTime.UtcNow),
            new StatusUpdate(Guid.CreateVersion7(), victim.Id, "row 1", "general", createdAt),
        ];
        var local = DateTime.SpecifyKind(new DateTime(2026, 3, 1, 12, 0, 0), DateTimeKind.Local);
        var unspecified = new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Unspecified);
        foreach (var (kind, when) in new[] { ("Local", local), ("Unspecified", unspecified) })
        {
            cases.Add($"StatusUpdates.ImportAsync statusUpdates[1].CreatedAt = Kind {kind}", new BadCase("statusUpdates[1].CreatedAt", (db, victim, Ct) => db.StatusUpdates.ImportAsync(Rows(victim, when), Ct)));
            var cursor = new PageCursor(when, Guid.CreateVersion7());
            cases.Add($"StatusUpdates.ListByUserAsync after = Kind {kind}", new BadCase("after", (db, victim, Ct) => db.StatusUpdates.ListByUserAsync(victim.Id, 10, cursor, Ct)));
            cases.Add($"StatusUpdates.GetFeedAsync after = Kind {kind}", new BadCase("after", (db, _, Ct) => db.StatusUpdates.GetFeedAsync(10, cursor, Ct)));
            cases.Add($"StatusUpdates.ListByCategoryAsync after = Kind {kind}", new BadCase("after", (db, _, Ct) => db.StatusUpdates.ListByCategoryAsync("general", 10, cursor, Ct)));
            cases.Add($"Users.ListAsync after = Kind {kind}", new BadCase("after", (db, _, Ct) => db.Users.ListAsync(10, cursor, Ct)));
        }

        cases.Add("StatusUpdates.ImportAsync statusUpdates[1] = null", new BadCase("statusUpdates[1]", (db, victim, Ct) => db.StatusUpdates.ImportAsync([Rows(victim, DateTime.UtcNow)[0], null!], Ct)));
        return cases;
    }

    /// <summary>Every text parameter of every write method: how to write a value there, and how to read it back.</summary>
    private static IEnumerable<WriteTarget> Targets()
    {
        yield return new("Users.CreateAsync", "username", 50, false, true, async (db, _, v, Ct) => (await db.Users.CreateAsync(v!, "Name", Unique.Email(Unique.Name()), "hash", null, Ct)).Id, ReadUser(u => u.Username));
        yield return new("Users.CreateAsync", "displayName", 100, false, false, async (db, _, v, Ct) => (await db.Users.CreateAsync(Unique.Name(), v!, Unique.Email(Unique.Name()), "hash", null, Ct)).Id, ReadUser(u => u.DisplayName));
        yield return new("Users.CreateAsync", "email", 255, false, true, async (db, _, v, Ct) => (await db.Users.CreateAsync(Unique.Name(), "Name", v!, "hash", null, Ct)).Id, ReadUser(u => u.Email));
        yield return new("Users.CreateAsync", "passwordHash", 255, false, false, async (db, _, v, Ct) => (await db.Users.CreateAsync(Unique.Name(), "Name", Unique.Email(Unique.Name()), v!, null, Ct)).Id, ReadUser(u => u.PasswordHash));
        yield return new("Users.CreateAsync", "avatarUrl", 500, true, false, async (db, _, v, Ct) => (await db.Users.CreateAsync(Unique.Name(), "Name", Unique.Email(Unique.Name()), "hash", v, Ct)).Id, ReadUser(u => u.AvatarUrl));
        yield return new("Users.UpdateProfileAsync", "displayName", 100, false, false, async (db, victim, v, Ct) => (await db.Users.UpdateProfileAsync(victim.Id, v!, victim.Email, victim.AvatarUrl, Ct)).Id, ReadUser(u => u.DisplayName));
        yield return new("Users.UpdateProfileAsync", "email", 255, false, true, async (db, victim, v, Ct) => (await db.Users.UpdateProfileAsync(victim.Id, victim.DisplayName, v!, victim.AvatarUrl, Ct)).Id, ReadUser(u => u.Email));
        yield return new("Users.UpdateProfileAsync", "avatarUrl", 500, true, false, async (db, victim, v, Ct) => (await db.Users.UpdateProfileAsync(victim.Id, victim.DisplayName, victim.Email, v, Ct)).Id, ReadUser(u => u.AvatarUrl));
        yield return new("Users.SetPasswordHashAsync", "passwordHash", 255, false, false, async (db, victim, v, Ct) =>
        {
            await db.Users.SetPasswordHashAsync(victim.Id, v!, Ct);
            return victim.Id;
        }, ReadUser(u => u.PasswordHash));
        yield return new("StatusUpdates.PostAsync", "message", 5000, false, false, async (db, victim, v, Ct) => (await db.StatusUpdates.PostAsync(victim.Id, v!, "general", 1, null, Ct)).StatusUpdate.Id, ReadStatus(s => s.Message));
        yield return new("StatusUpdates.PostAsync", "category", 20, false, false, async (db, victim, v, Ct) => (await db.StatusUpdates.PostAsync(victim.Id, "message", v!, 1, null, Ct)).StatusUpdate.Id, ReadStatus(s => s.Category));
        yield return new("StatusUpdates.ImportAsync", "statusUpdates[1].Message", 5000, false, false, (db, victim, v, Ct) => ImportAsync(db, victim, v!, "general", Ct), ReadStatus(s => s.Message));
        yield return new("StatusUpdates.ImportAsync", "statusUpdates[1].Category", 20, false, false, (db, victim, v, Ct) => ImportAsync(db, victim, "message", v!, Ct), ReadStatus(s => s.Category));

        static async Task<Guid> ImportAsync(IStatusDatabase db, User victim, string message, string category, CancellationToken ct)
        {
            var rows = new[]
            {
                new StatusUpdate(Guid.CreateVersion7(), victim.Id, "valid row 0", "general", DateTime.UtcNow),
                new StatusUpdate(Guid.CreateVersion7(), victim.Id, message, category, DateTime.UtcNow),
            };
            Assert.Equal(2, await db.StatusUpdates.ImportAsync(rows, ct));
            return rows[1].Id;
        }

        static Func<IStatusDatabase, Guid, CancellationToken, Task<string?>> ReadUser(Func<User, string?> field) =>
            async (db, id, Ct) => field((await db.Users.GetByIdAsync(id, Ct))!);

        static Func<IStatusDatabase, Guid, CancellationToken, Task<string?>> ReadStatus(Func<StatusUpdate, string?> field) =>
            async (db, id, Ct) => field((await db.StatusUpdates.GetByIdAsync(id, Ct))!.StatusUpdate);
    }

    private static int CodePoints(string value) => value.EnumerateRunes().Count();

    private static string Truncate(string value, int maxCodePoints)
    {
        var builder = new StringBuilder();
        foreach (var rune in value.EnumerateRunes().Take(maxCodePoints))
        {
            builder.Append(rune.ToString());
        }

        return builder.ToString();
    }

    private sealed record BadCase(string ParamName, Func<IStatusDatabase, User, CancellationToken, Task> Call);

    private sealed record WriteTarget(
        string Method,
        string ParamName,
        int MaxLength,
        bool Optional,
        bool Unique,
        Func<IStatusDatabase, User, string?, CancellationToken, Task<Guid>> Write,
        Func<IStatusDatabase, Guid, CancellationToken, Task<string?>> Read)
    {
        public string Name => string.Create(CultureInfo.InvariantCulture, $"{Method} {ParamName}");

        public async Task<string?> WriteAndReadBack(IStatusDatabase db, User victim, string value, CancellationToken ct) =>
            await Read(db, await Write(db, victim, value, ct), ct);
    }

    /// <summary>A transaction seen as an <see cref="IStatusDatabase"/>, so the same cases run inside one.</summary>
    private sealed class TransactionDatabase(IStatusDataTransaction transaction) : IStatusDatabase
    {
        public IUserRepository Users => transaction.Users;

        public IStatusUpdateRepository StatusUpdates => transaction.StatusUpdates;

        public Task<IStatusDataTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Already in a transaction.");
    }
}
