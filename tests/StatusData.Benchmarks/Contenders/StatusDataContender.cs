using Npgsql;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// StatusData as shipped: a <see cref="StatusDatabase"/> over its own data source, built from the same connection string
/// with Npgsql's automatic preparation on, as <c>AddStatusData(connectionString)</c> builds it and docs/library.md tells
/// callers with a data source of their own to set (Dapper prepares nothing itself).
/// </summary>
internal sealed class StatusDataContender : Contender
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly StatusDatabase _database;

    public StatusDataContender(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32 });
        _database = new StatusDatabase(_dataSource);
    }

    public override Task<User?> GetUserAsync(Guid id) => _database.Users.GetByIdAsync(id);

    public override Task<User> CreateUserAsync(string username, string displayName, string email, string passwordHash) =>
        _database.Users.CreateAsync(username, displayName, email, passwordHash);

    public override Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward) =>
        _database.StatusUpdates.PostAsync(userId, message, category, xpAward);

    public override Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, int offset, PageCursor? after) =>
        _database.StatusUpdates.GetFeedAsync(limit, after);

    public override Task<UserWithStatusUpdates?> GetUserWithUpdatesAsync(Guid id) => _database.Users.GetWithStatusUpdatesAsync(id);

    public override Task<IReadOnlyList<UserWithStatusUpdates>> GetUsersWithUpdatesAsync(Guid[] ids) => _database.Users.GetManyWithStatusUpdatesAsync(ids);

    public override Task<long> ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities) => _database.StatusUpdates.ImportAsync(rows);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
