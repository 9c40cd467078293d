namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// The operations every contender runs, one method each, over the contender's own connection pool.
/// Each contender overrides them with its own result type (a covariant <see cref="Task{TResult}"/>), so
/// a benchmark returns the contender's task as it is, with nothing awaited or allocated on the way, and
/// the round-trip pass reads its result.
/// </summary>
internal abstract class Contender : IAsyncDisposable
{
    public abstract Task GetUserAsync(Guid id);

    public abstract Task CreateUserAsync(string username, string displayName, string email, string passwordHash);

    public abstract Task PostAsync(Guid userId, string message, string category, int xpAward);

    /// <summary>
    /// The <paramref name="limit"/> newest updates with their authors after the first <paramref name="offset"/>,
    /// the last of which is <paramref name="after"/> (page 1: 0 and null): keyset contenders seek past the
    /// cursor, OFFSET contenders skip the rows.
    /// </summary>
    public abstract Task GetFeedAsync(int limit, int offset, PageCursor? after);

    public abstract Task GetUserWithUpdatesAsync(Guid id);

    public abstract Task GetUsersWithUpdatesAsync(Guid[] ids);

    /// <summary>
    /// Imports the same rows given twice: as StatusData's records, and as fresh POCOs for EF Core, which
    /// tracks the instances it inserts (made outside the timing, before each import).
    /// </summary>
    public abstract Task ImportAsync(IReadOnlyList<StatusUpdate> rows, List<StatusUpdateRow> entities);

    public abstract ValueTask DisposeAsync();
}
