namespace StatusData;

/// <summary>A row of <c>status_updates</c>, column for column.</summary>
/// <param name="Id">Primary key (UUIDv7 when StatusData created it).</param>
/// <param name="UserId">The author, a <c>users.id</c>.</param>
/// <param name="Message">The text; at most <see cref="StatusDataOptions.MaxMessageLength"/> characters when written by StatusData.</param>
/// <param name="Category">At most 20 characters.</param>
/// <param name="CreatedAt">When it was posted, UTC, microsecond precision.</param>
/// <remarks>
/// It refers to its author by <see cref="UserId"/> only: no navigation back to <see cref="User"/>, so
/// equality and printing never recurse. <see cref="StatusUpdateWithAuthor"/> pairs the two.
/// </remarks>
public sealed record StatusUpdate(
    Guid Id,
    Guid UserId,
    string Message,
    string Category,
    DateTime CreatedAt);

/// <summary>A status update with its author, loaded together in one query (the ORM's joined loading).</summary>
/// <param name="StatusUpdate">The status update.</param>
/// <param name="Author">The user who posted it, as of the query (after posting: with the new XP and streak).</param>
public sealed record StatusUpdateWithAuthor(StatusUpdate StatusUpdate, User Author);

/// <summary>A user with all of their status updates, newest first (the ORM's selectin loading).</summary>
/// <param name="User">The user.</param>
/// <param name="StatusUpdates">Every status update of the user, newest first.</param>
public sealed record UserWithStatusUpdates(User User, IReadOnlyList<StatusUpdate> StatusUpdates);

/// <summary>A position in a list ordered by <c>(created_at, id)</c>: the last item of the previous page.</summary>
/// <param name="CreatedAt">The <c>created_at</c> of the last item seen (UTC).</param>
/// <param name="Id">The id of the last item seen; breaks ties between equal timestamps.</param>
public readonly record struct PageCursor(DateTime CreatedAt, Guid Id)
{
    /// <summary>The cursor after a status update.</summary>
    /// <param name="statusUpdate">The last status update of a page.</param>
    /// <returns>The cursor.</returns>
    public static PageCursor After(StatusUpdate statusUpdate)
    {
        ArgumentNullException.ThrowIfNull(statusUpdate);
        return new PageCursor(statusUpdate.CreatedAt, statusUpdate.Id);
    }

    /// <summary>The cursor after a user.</summary>
    /// <param name="user">The last user of a page.</param>
    /// <returns>The cursor.</returns>
    public static PageCursor After(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new PageCursor(user.CreatedAt, user.Id);
    }
}

/// <summary>One page of a keyset-paginated list.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <param name="Items">The items of this page, at most the requested limit.</param>
/// <param name="Next">Pass this to get the next page; <see langword="null"/> on the last page.</param>
public sealed record Page<T>(IReadOnlyList<T> Items, PageCursor? Next);
