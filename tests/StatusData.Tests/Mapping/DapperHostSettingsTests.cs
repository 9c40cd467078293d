using System.ComponentModel;
using System.Data;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace StatusData.Tests.Mapping;

/// <summary>
/// StatusData maps rows with Dapper, whose settings, type maps and type handlers are process-wide. These tests
/// show both directions: the host application's Dapper settings leave StatusData's results as they are (except
/// the ones PACKAGE.md names), and StatusData leaves the host's own Dapper queries as they are. Because the cases
/// change Dapper's process-wide state, they run in a child process of their own (<see cref="HostSettingsProbe"/>),
/// one after the other, where StatusData starts after the host has configured Dapper, as in an application.
/// </summary>
public sealed partial class DapperHostSettingsTests
{
    private const string ProbeOutputVariable = "STATUSDATA_DAPPER_PROBE_OUTPUT";

    /// <summary>
    /// Every process-wide Dapper setting, each with the cases that show its effect on StatusData (<see langword="true"/>:
    /// the results change). PACKAGE.md's table says "none" for exactly the settings whose cases all leave them as they are.
    /// </summary>
    private static readonly Case[] Cases =
    [
        new("DefaultTypeMap.MatchNamesWithUnderscores", "true", false, () => DefaultTypeMap.MatchNamesWithUnderscores = true),
        new("SqlMapper.TypeMapProvider", "attribute mapping for the host's types, Dapper's default for the rest", false, () => SqlMapper.TypeMapProvider = type => type == typeof(HostRow)
            ? new CustomPropertyTypeMap(type, (_, column) => type.GetProperty(column.Replace("_", string.Empty, StringComparison.Ordinal), BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)!)
            : new DefaultTypeMap(type)),
        new("SqlMapper.TypeMapProvider", "a provider that maps no column of any type", true, () => SqlMapper.TypeMapProvider = type => new CustomPropertyTypeMap(type, (_, _) => null!)),
        new("SqlMapper.SetTypeMap", "a map for a type of the host's own", false, () => SqlMapper.SetTypeMap(typeof(HostRow), new CustomPropertyTypeMap(typeof(HostRow), (_, _) => null!))),
        new("SqlMapper.SetTypeMap", "a map for StatusData's User", true, () => SqlMapper.SetTypeMap(typeof(User), new CustomPropertyTypeMap(typeof(User), (_, _) => null!))),
        new("SqlMapper.AddTypeHandler", "a DateTime handler that marks values UTC", false, () => SqlMapper.AddTypeHandler(new UtcDateTimeHandler())),
        new("SqlMapper.AddTypeHandler", "a DateOnly handler from before Dapper supported DateOnly", false, () => SqlMapper.AddTypeHandler(new LegacyDateOnlyHandler())),
        new("SqlMapper.AddTypeHandler", "a handler for a type of the host's own", false, () => SqlMapper.AddTypeHandler(new MoneyHandler())),
        new("SqlMapper.AddTypeHandler", "a DateTime handler that converts to local time", true, () => SqlMapper.AddTypeHandler(new LocalDateTimeHandler())),
        new("SqlMapper.AddTypeHandler", "a string handler that rewrites values", true, () => SqlMapper.AddTypeHandler(new UpperCaseStringHandler())),
        new("SqlMapper.ResetTypeHandlers", "after handlers were added", false, () =>
        {
            SqlMapper.AddTypeHandler(new UpperCaseStringHandler());
            SqlMapper.ResetTypeHandlers();
        }),
        new("SqlMapper.AddTypeMap", "DateTime as DbType.DateTime2 (SQL Server's advice)", false, () => SqlMapper.AddTypeMap(typeof(DateTime), DbType.DateTime2)),
        new("SqlMapper.AddTypeMap", "string as DbType.AnsiString", false, () => SqlMapper.AddTypeMap(typeof(string), DbType.AnsiString)),
        new("SqlMapper.AddTypeMap", "Guid as DbType.String", true, () => SqlMapper.AddTypeMap(typeof(Guid), DbType.String)),
        new("SqlMapper.RemoveTypeMap", "DateTime", false, () => SqlMapper.RemoveTypeMap(typeof(DateTime))),
        new("SqlMapper.RemoveTypeMap", "DateOnly", true, () => SqlMapper.RemoveTypeMap(typeof(DateOnly))),
        new("SqlMapper.PurgeQueryCache", "between calls", false, SqlMapper.PurgeQueryCache),
        new("SqlMapper.QueryCachePurged", "a subscriber", false, () => SqlMapper.QueryCachePurged += OnPurged),
        new("SqlMapper.ConnectionStringComparer", "case-insensitive", false, () => SqlMapper.ConnectionStringComparer = StringComparer.OrdinalIgnoreCase),
        new("SqlMapper.Settings.CommandTimeout", "1 second, with a StatusData call that waits 2 s for a lock", false, () => SqlMapper.Settings.CommandTimeout = 1),
        new("SqlMapper.Settings.ApplyNullValues", "true", false, () => SqlMapper.Settings.ApplyNullValues = true),
        new("SqlMapper.Settings.PadListExpansions", "true", false, () => SqlMapper.Settings.PadListExpansions = true),
        new("SqlMapper.Settings.InListStringSplitCount", "1", false, () => SqlMapper.Settings.InListStringSplitCount = 1),
        new("SqlMapper.Settings.UseIncrementalPseudoPositionalParameterNames", "true", false, () => SqlMapper.Settings.UseIncrementalPseudoPositionalParameterNames = true),
        new("SqlMapper.Settings.UseSingleResultOptimization", "flipped", false, () => SqlMapper.Settings.UseSingleResultOptimization = !SqlMapper.Settings.UseSingleResultOptimization),
        new("SqlMapper.Settings.UseSingleRowOptimization", "flipped", false, () => SqlMapper.Settings.UseSingleRowOptimization = !SqlMapper.Settings.UseSingleRowOptimization),
        new("SqlMapper.Settings.FetchSize", "1", false, () => SqlMapper.Settings.FetchSize = 1),
        new("SqlMapper.Settings.SupportLegacyParameterTokens", "false", false, () => SqlMapper.Settings.SupportLegacyParameterTokens = false),
        new("SqlMapper.Settings.PreferTypeHandlersForEnums", "true", false, () => SqlMapper.Settings.PreferTypeHandlersForEnums = true),
        new("SqlMapper.Settings.SetDefaults", "after settings were changed", false, () =>
        {
            SqlMapper.Settings.CommandTimeout = 1;
            SqlMapper.Settings.SetDefaults();
        }),
        new("DbString.IsAnsiDefault", "true", false, () => DbString.IsAnsiDefault = true),
    ];

    /// <summary>Public static members of Dapper that its generated code or a caller's own command uses: they change no process-wide state.</summary>
    private static readonly Dictionary<string, string> NotSettings = new()
    {
        ["SqlMapper.AddTypeHandlerImpl"] = "obsolete, hidden: AddTypeHandler's old name",
        ["SqlMapper.SetDbType"] = "obsolete, hidden: called by Dapper's generated code on one parameter",
        ["SqlMapper.PackListParameters"] = "obsolete, hidden: called by Dapper's generated code on one command",
        ["SqlMapper.ThrowNullCustomQueryParameter"] = "obsolete, hidden: called by Dapper's generated code",
        ["SqlMapper.ThrowDataException"] = "obsolete, hidden: called by Dapper's generated code",
        ["SqlMapper.ReplaceLiterals"] = "acts on the one command it is given",
        ["SqlMapper.SetTypeName"] = "acts on the one DataTable it is given",
        ["SqlMapper+TypeHandlerCache`1.SetValue"] = "obsolete: called by Dapper's generated code on one parameter",
    };

    [Fact]
    public void TheCasesCoverEveryProcessWideSettingOfDapper()
    {
        var assembly = typeof(SqlMapper).Assembly;
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in assembly.GetExportedTypes())
        {
            const BindingFlags statics = BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var name = type.FullName!.Replace("Dapper.", string.Empty, StringComparison.Ordinal).Replace('+', '.');
            found.UnionWith(type.GetProperties(statics).Where(p => p.SetMethod?.IsPublic == true).Select(p => $"{name}.{p.Name}"));
            found.UnionWith(type.GetFields(statics).Where(f => !f.IsInitOnly && !f.IsLiteral).Select(f => $"{name}.{f.Name}"));
            found.UnionWith(type.GetEvents(statics).Select(e => $"{name}.{e.Name}"));
            found.UnionWith(type.GetMethods(statics).Where(m => !m.IsSpecialName && m.ReturnType == typeof(void)).Select(m => $"{name}.{m.Name}"));
        }

        var known = Cases.Select(c => c.Setting).Concat(NotSettings.Keys.Select(k => k.Replace('+', '.'))).ToHashSet();
        Assert.True(found.SetEquals(known), $"Dapper {assembly.GetName().Version}: not covered: {string.Join(", ", found.Except(known))}; gone: {string.Join(", ", known.Except(found))}");
    }

    [Fact]
    public async Task PackageMdNamesExactlyTheSettingsThatChangeStatusDatasResults()
    {
        var table = await DocumentedSettingsAsync();
        var settings = Cases.GroupBy(c => c.Setting).ToDictionary(g => g.Key, g => g.Any(c => c.ChangesResults));
        Assert.Equal(settings.Keys.Order(), table.Keys.Order());
        foreach (var (setting, changes) in settings)
        {
            Assert.True(changes != table[setting].StartsWith("none", StringComparison.Ordinal), $"PACKAGE.md on {setting}: '{table[setting]}', but the cases {(changes ? "change" : "do not change")} StatusData's results");
        }
    }

    [Fact]
    [Trait("Category", "Slow")] // a child process runs every case, about 15 s
    public async Task TheHostsDapperSettingsAndStatusDataLeaveEachOtherAlone()
    {
        var output = Path.Combine(Path.GetTempPath(), $"statusdata-dapper-probe-{Guid.NewGuid():N}.txt");
        try
        {
            await ChildTestRun.RunAsync<DapperHostSettingsTests>(nameof(HostSettingsProbe), new()
            {
                [ProbeOutputVariable] = output,
            });
            string[] expected =
            [
                "host configured before StatusData: same results as a plain host",
                "host's own queries after StatusData: as before",
                "Dapper's state after StatusData: as before",
                .. Cases.Select(c => $"{c.Setting} ({c.Example}): {(c.ChangesResults ? "changes" : "same")}"),
                "plain again at the end: same results as at the start",
            ];
            Assert.Equal(expected, await File.ReadAllLinesAsync(output, Ct));
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>The cases, in a child process of <see cref="TheHostsDapperSettingsAndStatusDataLeaveEachOtherAlone"/>; skipped in the suite's own process, whose other tests share Dapper's state.</summary>
    [Fact]
    public async Task HostSettingsProbe()
    {
        Assert.SkipWhen(Environment.GetEnvironmentVariable(ProbeOutputVariable) is not { Length: > 0 }, "runs in the child process of TheHostsDapperSettingsAndStatusDataLeaveEachOtherAlone: it changes Dapper's process-wide settings");
        var output = Environment.GetEnvironmentVariable(ProbeOutputVariable)!;
        var databases = await SharedPostgres.GetAsync();
        var lines = new List<string>();

        // An application configures Dapper at startup, the usual way, before StatusData is first used.
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new UtcDateTimeHandler());
        SqlMapper.AddTypeHandler(new LegacyDateOnlyHandler());
        SqlMapper.AddTypeHandler(new MoneyHandler());
        var hostDatabase = await databases.CreateMigratedAsync("dapper", Ct);
        var hostBefore = await HostQueriesAsync(hostDatabase);
        var stateBefore = DapperState();
        var configured = await ObserveAsync(await databases.CreateMigratedAsync("dapper", Ct));
        Assert.Equal(hostBefore, await HostQueriesAsync(hostDatabase));
        lines.Add("host's own queries after StatusData: as before");
        Assert.Equal(stateBefore, DapperState());
        lines.Add("Dapper's state after StatusData: as before");

        Restore();
        var plain = await ObserveAsync(await databases.CreateMigratedAsync("dapper", Ct));
        Assert.Equal(plain, configured);
        lines.Insert(0, "host configured before StatusData: same results as a plain host");

        foreach (var @case in Cases)
        {
            @case.Apply();
            string observed;
            try
            {
                observed = await ObserveAsync(await databases.CreateMigratedAsync("dapper", Ct), slowCall: @case.Setting == "SqlMapper.Settings.CommandTimeout");
            }
            catch (Exception e)
            {
                observed = "failed: " + e;
            }
            finally
            {
                Restore();
            }

            lines.Add($"{@case.Setting} ({@case.Example}): {(observed == plain ? "same" : "changes")}");
            if (observed != plain && !@case.ChangesResults)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"{@case.Setting} ({@case.Example}):\n{observed}\nplain:\n{plain}");
            }
        }

        Assert.Equal(plain, await ObserveAsync(await databases.CreateMigratedAsync("dapper", Ct)));
        lines.Add("plain again at the end: same results as at the start");
        await File.WriteAllLinesAsync(output, lines, Ct);
    }

    /// <summary>The documentation's example, run: a query of the application's own with the published column list gets the library's records.</summary>
    [Fact]
    public async Task AQueryOfTheAppsOwnWithThePublishedColumnsGetsTheLibrarysRecords()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        await using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(
            services.AddStatusData(await (await SharedPostgres.GetAsync()).CreateMigratedAsync("columns", Ct)));
        var db = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IStatusDatabase>(provider);
        var dataSource = Microsoft.Extensions.DependencyInjection.ServiceProviderKeyedServiceExtensions.GetRequiredKeyedService<NpgsqlDataSource>(provider, StatusDataServiceCollectionExtensions.DataSourceKey);
        var ada = await db.Users.CreateAsync("ada", "Ada", "ada@example.com", "hash", null, Ct);
        var posted = await db.StatusUpdates.PostAsync(ada.Id, "hello", "work", 1200, null, Ct);
        await db.Users.CreateAsync("bob", "Bob", "bob@example.com", "hash", "https://example.com/bob.png", Ct);

        // As in PACKAGE.md.
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        var veterans = await connection.QueryAsync<User>(new CommandDefinition(
            $"SELECT {StatusDataColumns.User} FROM users WHERE xp >= @minXp ORDER BY xp DESC",
            new { minXp = 1000 },
            cancellationToken: Ct));
        var updates = await connection.QueryAsync<StatusUpdate>(new CommandDefinition(
            $"SELECT {StatusDataColumns.StatusUpdate} FROM status_updates WHERE user_id = @id",
            new { id = ada.Id },
            cancellationToken: Ct));

        Assert.Equal([posted.Author], veterans);
        Assert.Equal([posted.StatusUpdate], updates);
        Assert.Equal((await db.Users.ListAsync(10, null, Ct)).Items, await connection.QueryAsync<User>($"SELECT {StatusDataColumns.User} FROM users ORDER BY created_at, id"));
    }

    /// <summary>
    /// One scenario through every repository method on a fresh database with a fixed clock, plus rows the Python
    /// side wrote, written down as JSON with ids numbered by first appearance (UUIDv7 has random bits).
    /// </summary>
    private static async Task<string> ObserveAsync(string connectionString, bool slowCall = false)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 22, 15, 3, TimeSpan.Zero).AddTicks(1_234_560));
        var db = new StatusDatabase(dataSource, null, clock);
        var python = Guid.Parse("8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f");
        await Sql.ExecuteAsync(dataSource, """
            INSERT INTO users (id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at)
            VALUES ('8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f', 'py_user', 'Py Thon', 'py@example.com', 'pbkdf2:x', NULL, 42, 3, 7, '2026-02-28', '2026-02-28 22:15:03.012345+00');
            INSERT INTO status_updates (id, user_id, message, category, created_at)
            VALUES ('c9f0f895-fb98-4b91-a1f6-0123456789ab', '8f14e45f-ceea-467a-9b36-1a2b3c4d5e6f', 'from python', 'work', '2026-02-28 23:15:03.012345+01')
            """);
        var log = new List<object?>();
        var ada = await db.Users.CreateAsync("ada", "Ada", "ada@example.com", "hash", "https://example.com/ada.png", Ct);
        log.Add(ada);
        clock.Advance(TimeSpan.FromMinutes(1));
        log.Add(await db.StatusUpdates.PostAsync(ada.Id, "one", "work", 10, new DateOnly(2026, 3, 1), Ct));
        clock.Advance(TimeSpan.FromDays(1));
        log.Add(await db.StatusUpdates.PostAsync(ada.Id, "two", "life", 20, null, Ct));
        clock.Advance(TimeSpan.FromMinutes(1));
        log.Add(await db.StatusUpdates.PostAsync(python, "three", "work", 5, new DateOnly(2026, 3, 1), Ct));
        if (slowCall)
        {
            // The profile update waits 2 s for the row lock another session holds: longer than the host's 1 s default.
            await using var holder = await dataSource.OpenConnectionAsync(Ct);
            await using var transaction = await holder.BeginTransactionAsync(Ct);
            await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", holder, transaction) { Parameters = { new() { Value = ada.Id } } })
            {
                await lockRow.ExecuteNonQueryAsync(Ct);
            }

            var update = db.Users.UpdateProfileAsync(ada.Id, "Ada L", "ada@lovelace.example", null, Ct);
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);
            await transaction.CommitAsync(Ct);
            log.Add(await update);
        }
        else
        {
            log.Add(await db.Users.UpdateProfileAsync(ada.Id, "Ada L", "ada@lovelace.example", null, Ct));
        }

        await db.Users.SetPasswordHashAsync(ada.Id, "hash2", Ct);
        var imported = new StatusUpdate(Guid.Parse("0195f000-0000-7000-8000-000000000001"), python, "imported", "work", new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc).AddTicks(10));
        log.Add(await db.StatusUpdates.ImportAsync([imported, imported with { Id = Guid.Parse("0195f000-0000-7000-8000-000000000002"), Message = "gone" }], Ct));
        log.Add(await db.StatusUpdates.DeleteAsync(Guid.Parse("0195f000-0000-7000-8000-000000000002"), Ct));
        log.Add(await db.StatusUpdates.DeleteAsync(Guid.Parse("0195f000-0000-7000-8000-000000000002"), Ct));

        log.Add(await db.Users.GetByIdAsync(ada.Id, Ct));
        log.Add(await db.Users.GetByUsernameAsync("py_user", Ct));
        log.Add(await db.Users.GetByEmailAsync("ada@lovelace.example", Ct));
        log.Add(await db.Users.GetByIdAsync(Guid.Empty, Ct));
        log.Add(await db.Users.GetLeaderboardAsync(10, Ct));
        var users = await db.Users.ListAsync(1, null, Ct);
        log.Add(users);
        log.Add(await db.Users.ListAsync(1, users.Next, Ct));
        log.Add(await db.Users.GetWithStatusUpdatesAsync(python, Ct));
        log.Add(await db.Users.GetManyWithStatusUpdatesAsync([ada.Id, Guid.Empty, python], Ct));
        log.Add(await db.StatusUpdates.GetByIdAsync(Guid.Parse("c9f0f895-fb98-4b91-a1f6-0123456789ab"), Ct));
        var feed = await db.StatusUpdates.GetFeedAsync(2, null, Ct);
        log.Add(feed);
        log.Add(await db.StatusUpdates.GetFeedAsync(2, feed.Next, Ct));
        log.Add(await db.StatusUpdates.ListByUserAsync(python, 2, null, Ct));
        log.Add(await db.StatusUpdates.ListByCategoryAsync("work", 10, null, Ct));
        log.Add(await db.Users.DeleteAsync(ada.Id, Ct));
        log.Add(await db.Users.DeleteAsync(ada.Id, Ct));
        log.Add(await db.StatusUpdates.GetFeedAsync(10, null, Ct));

        var ids = new Dictionary<string, int>();
        return Uuid().Replace(JsonSerializer.Serialize(log), match => "#" + (ids.TryGetValue(match.Value, out var n) ? n : ids[match.Value] = ids.Count));
    }

    /// <summary>The host's own Dapper queries, relying on its settings: names with underscores, its handlers, and how it sends a DateTime.</summary>
    private static async Task<string> HostQueriesAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.ExecuteAsync("""
            INSERT INTO users (id, username, display_name, email, password_hash, xp, current_streak, longest_streak, last_post_date, created_at)
            VALUES ('11111111-1111-4111-8111-111111111111', 'host', 'Host Row', 'host@example.com', 'h', 7, 0, 0, '2026-01-02', '2026-01-02 03:04:05.678901+00')
            ON CONFLICT DO NOTHING
            """);
        var rows = await connection.QueryAsync<HostRow>(new CommandDefinition("SELECT id, display_name, created_at, last_post_date, xp::numeric AS balance FROM users", cancellationToken: Ct));
        var sent = await connection.QueryFirstAsync<string>(new CommandDefinition("SELECT pg_typeof(@when)::text || ' ' || pg_typeof(@day)::text", new { when = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), day = new DateOnly(2026, 1, 2) }, cancellationToken: Ct));
        return JsonSerializer.Serialize(new { rows, sent });
    }

    /// <summary>What StatusData could have changed in Dapper's process-wide state, without touching it.</summary>
    private static string DapperState() => JsonSerializer.Serialize(new
    {
        DefaultTypeMap.MatchNamesWithUnderscores,
        SqlMapper.Settings.CommandTimeout,
        SqlMapper.Settings.ApplyNullValues,
        SqlMapper.Settings.PadListExpansions,
        SqlMapper.Settings.InListStringSplitCount,
        SqlMapper.Settings.UseIncrementalPseudoPositionalParameterNames,
        SqlMapper.Settings.UseSingleResultOptimization,
        SqlMapper.Settings.UseSingleRowOptimization,
        SqlMapper.Settings.FetchSize,
        SqlMapper.Settings.SupportLegacyParameterTokens,
        SqlMapper.Settings.PreferTypeHandlersForEnums,
        DbString.IsAnsiDefault,
        Comparer = SqlMapper.ConnectionStringComparer.GetHashCode(),
        Provider = SqlMapper.TypeMapProvider.GetHashCode(),
        TypeMaps = new[] { typeof(HostRow), typeof(User), typeof(StatusUpdate) }.Select(type => SqlMapper.GetTypeMap(type).GetHashCode()).ToArray(),
        Handlers = new[] { typeof(DateTime), typeof(DateOnly), typeof(Money), typeof(string), typeof(Guid), typeof(int), typeof(DateTimeOffset) }.Select(SqlMapper.HasTypeHandler).ToArray(),
    });

    private static readonly Func<Type, SqlMapper.ITypeMap> DefaultProvider = SqlMapper.TypeMapProvider;
    private static readonly IEqualityComparer<string> DefaultComparer = SqlMapper.ConnectionStringComparer;

    /// <summary>Dapper's defaults again, through its public API: settings, handlers, the DbType map entries the cases change, type maps and the cache.</summary>
    private static void Restore()
    {
        DefaultTypeMap.MatchNamesWithUnderscores = false;
        SqlMapper.Settings.SetDefaults();
        DbString.IsAnsiDefault = false;
        SqlMapper.ResetTypeHandlers();
        SqlMapper.AddTypeMap(typeof(DateTime), (DbType)(-2)); // Dapper's own entry: set no DbType, let the provider choose
        SqlMapper.AddTypeMap(typeof(DateOnly), (DbType)(-2), useGetFieldValue: true);
        SqlMapper.AddTypeMap(typeof(string), DbType.String);
        SqlMapper.AddTypeMap(typeof(Guid), DbType.Guid);
        SqlMapper.TypeMapProvider = DefaultProvider;
        SqlMapper.ConnectionStringComparer = DefaultComparer;
        SqlMapper.QueryCachePurged -= OnPurged;
        SqlMapper.SetTypeMap(typeof(User), null);
        SqlMapper.SetTypeMap(typeof(HostRow), null);
        SqlMapper.PurgeQueryCache();
    }

    private static void OnPurged(object? sender, EventArgs e)
    {
    }

    /// <summary>PACKAGE.md's table of Dapper settings: setting → its effect on StatusData.</summary>
    private static async Task<Dictionary<string, string>> DocumentedSettingsAsync()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "src", "StatusData", "PACKAGE.md"), Ct);
        var table = text[text.IndexOf("<!-- dapper-settings:begin -->", StringComparison.Ordinal)..text.IndexOf("<!-- dapper-settings:end -->", StringComparison.Ordinal)];
        return DocumentedRow().Matches(table).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim());
    }

    [GeneratedRegex(@"^\| `([A-Za-z.]+)` \|([^|]+)\|", RegexOptions.Multiline)]
    private static partial Regex DocumentedRow();

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex Uuid();

    private sealed record Case(string Setting, string Example, bool ChangesResults, Action Apply);

    /// <summary>A type of the host's own, with a handler.</summary>
    public sealed record Money(decimal Amount);

    /// <summary>A row class of the host's, mapped with MatchNamesWithUnderscores.</summary>
    public sealed class HostRow
    {
        public Guid Id { get; set; }

        public string DisplayName { get; set; } = string.Empty;

        public DateTime CreatedAt { get; set; }

        public DateOnly? LastPostDate { get; set; }

        public Money? Balance { get; set; }
    }

    private sealed class UtcDateTimeHandler : SqlMapper.TypeHandler<DateTime>
    {
        public override void SetValue(IDbDataParameter parameter, DateTime value) => parameter.Value = value;

        public override DateTime Parse(object value) => DateTime.SpecifyKind((DateTime)value, DateTimeKind.Utc);
    }

    private sealed class LocalDateTimeHandler : SqlMapper.TypeHandler<DateTime>
    {
        public override void SetValue(IDbDataParameter parameter, DateTime value) => parameter.Value = value;

        public override DateTime Parse(object value) => DateTime.SpecifyKind(((DateTime)value).ToLocalTime(), DateTimeKind.Local);
    }

    private sealed class LegacyDateOnlyHandler : SqlMapper.TypeHandler<DateOnly>
    {
        public override void SetValue(IDbDataParameter parameter, DateOnly value)
        {
            parameter.DbType = DbType.Date;
            parameter.Value = value.ToDateTime(TimeOnly.MinValue);
        }

        public override DateOnly Parse(object value) => DateOnly.FromDateTime((DateTime)value);
    }

    private sealed class MoneyHandler : SqlMapper.TypeHandler<Money>
    {
        public override void SetValue(IDbDataParameter parameter, Money? value) => parameter.Value = value?.Amount;

        public override Money Parse(object value) => new(Convert.ToDecimal(value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private sealed class UpperCaseStringHandler : SqlMapper.TypeHandler<string>
    {
        public override void SetValue(IDbDataParameter parameter, string? value) => parameter.Value = value;

        public override string Parse(object value) => ((string)value).ToUpperInvariant();
    }
}
