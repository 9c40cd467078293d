namespace StatusData;

/// <summary>Reads and writes <c>status_updates</c>. Lists are keyset-paginated on <c>(created_at, id)</c>.</summary>
/// <remarks>What cancelling a call means for the data: see <see cref="IStatusDatabase"/>.</remarks>
public interface IStatusUpdateRepository
{
    /// <summary>
    /// Posts a status update and applies XP and the daily streak to its author, in one statement
    /// (one round trip), atomically, and correctly under concurrent posts by the same user.
    /// </summary>
    /// <param name="userId">The author.</param>
    /// <param name="message">1 to <see cref="StatusDataOptions.MaxMessageLength"/> characters.</param>
    /// <param name="category">1–20 characters.</param>
    /// <param name="xpAward">XP to add: 0 or more.</param>
    /// <param name="day">
    /// The author's local day of the post, for the streak (the app owns the day boundary, e.g. the
    /// user's time zone). Default: today in UTC, from the TimeProvider. The streak rules: the same day
    /// as the last post keeps it; the day after adds one; anything else restarts it at 1. The longest
    /// streak keeps its maximum, and the last post date becomes <paramref name="day"/>.
    /// </param>
    /// <returns>The new status update and the author after the update (new XP and streaks).</returns>
    /// <exception cref="ArgumentException">A value is empty, too long, or holds a NUL or an unpaired surrogate; the parameter is named.</exception>
    /// <exception cref="UserNotFoundException">The author does not exist (or was deleted meanwhile).</exception>
    Task<StatusUpdateWithAuthor> PostAsync(Guid userId, string message, string category, int xpAward, DateOnly? day = null, CancellationToken cancellationToken = default);

    /// <summary>Gets a status update with its author, in one query.</summary>
    /// <param name="id">The status update.</param>
    /// <returns>The update and author, or <see langword="null"/>.</returns>
    Task<StatusUpdateWithAuthor?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default);

    /// <summary>A user's status updates, newest first.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="limit">Page size: 1–1000.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/>; <see langword="null"/> for the first page.</param>
    /// <returns>The page.</returns>
    Task<Page<StatusUpdate>> ListByUserAsync(Guid userId, int limit, PageCursor? after = null, CancellationToken cancellationToken = default);

    /// <summary>The global feed, newest first, each update with its author (one query per page).</summary>
    /// <param name="limit">Page size: 1–1000.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/>; <see langword="null"/> for the first page.</param>
    /// <returns>The page.</returns>
    Task<Page<StatusUpdateWithAuthor>> GetFeedAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default);

    /// <summary>The status updates of one category, newest first.</summary>
    /// <param name="category">The category (exact).</param>
    /// <param name="limit">Page size: 1–1000.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/>; <see langword="null"/> for the first page.</param>
    /// <returns>The page.</returns>
    Task<Page<StatusUpdate>> ListByCategoryAsync(string category, int limit, PageCursor? after = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Imports status updates in bulk with binary COPY: all of them or none. For history and migrations
    /// of data: rows are stored as given (ids and timestamps included) and authors' XP and streaks are
    /// not touched. Inside a caller's transaction the import runs under a savepoint, so a failed import
    /// (a bad row, a missing author) leaves the rest of the transaction usable.
    /// </summary>
    /// <param name="statusUpdates">The rows; each is validated like <see cref="PostAsync"/> input, and <see cref="StatusUpdate.CreatedAt"/> must be UTC.</param>
    /// <param name="cancellationToken">Cancels the import; until the last row is sent, that writes nothing.</param>
    /// <returns>How many rows were imported.</returns>
    /// <exception cref="ArgumentException">A row is invalid; the message says which (by index). Nothing was written.</exception>
    /// <exception cref="UserNotFoundException">A row's author does not exist. Nothing was written.</exception>
    Task<long> ImportAsync(IEnumerable<StatusUpdate> statusUpdates, CancellationToken cancellationToken = default);

    /// <summary>Deletes a status update. The author's XP and streaks are left as they are.</summary>
    /// <param name="id">The status update.</param>
    /// <returns><see langword="true"/> if it existed.</returns>
    Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default);
}
