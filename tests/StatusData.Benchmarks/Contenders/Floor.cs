using Npgsql;

namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// Not a contender: every operation is a pooled connection checkout and one prepared <c>SELECT 1</c>
/// round trip, the least any contender's call costs here. It runs in every operation's group, next to
/// the contenders and under the same machine load.
/// </summary>
internal sealed class Floor(string connectionString) : Contender
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public override Task<int> GetUserAsync(Guid id) => SelectOneAsync();

    public override Task<int> CreateUserAsync(string username, string displayName, string email, string passwordHash) => SelectOneAsync();

    public override Task<int> PostAsync(Guid userId, string message, string category, int xpAward) => SelectOneAsync();

    public override Task<int> GetFeedAsync(int limit, int offset, PageCursor? after) => SelectOneAsync();

    public override Task<int> GetUserWithUpdatesAsync(Guid id) => SelectOneAsync();

    public override Task<int> GetUsersWithUpdatesAsync(Guid[] ids) => SelectOneAsync();

    public override Task<int> ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities) => SelectOneAsync();

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<int> SelectOneAsync()
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.PrepareAsync();
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
