using Dapper;

namespace StatusData.Internal;

/// <summary>Keyset pages: the cursor's parameters, and the page made of limit + 1 rows.</summary>
internal static class Paging
{
    /// <summary>A caller's cursor must carry a UTC timestamp (the one <see cref="PageCursor.After(StatusUpdate)"/> gives): the database compares instants.</summary>
    public static ArgumentException? Check(PageCursor? after, string paramName) =>
        after is { CreatedAt: var at } && at.Kind != DateTimeKind.Utc && at != DateTime.MaxValue && at != DateTime.MinValue
            ? new ArgumentException($"{paramName}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {at.Kind}. Use the cursor from Page.Next or PageCursor.After.", paramName)
            : null;

    /// <summary>
    /// A timestamp parameter. Sent as a <see cref="DateTimeOffset"/> at offset 0, which Npgsql always writes as
    /// <c>timestamptz</c>. A <see cref="DateTime"/> would go as <c>timestamp</c> when its Kind is not Utc, and through
    /// a host's Dapper <c>DateTime</c> type handler or type map (e.g. <c>DbType.DateTime2</c>) if it has one.
    /// <see cref="DateTime.MinValue"/> and <see cref="DateTime.MaxValue"/> become -infinity and +infinity.
    /// </summary>
    public static DateTimeOffset Timestamptz(DateTime utc) =>
        utc == DateTime.MaxValue ? DateTimeOffset.MaxValue
        : utc == DateTime.MinValue ? DateTimeOffset.MinValue
        : new DateTimeOffset(utc.Ticks, TimeSpan.Zero);

    /// <summary>The position to continue after in a newest-first list: no cursor is after every row, (+infinity, max uuid).</summary>
    public static (DateTimeOffset CreatedAt, Guid Id) Before(PageCursor? after) =>
        after is { } cursor ? (Timestamptz(cursor.CreatedAt), cursor.Id) : (DateTimeOffset.MaxValue, Guid.AllBitsSet);

    /// <summary>The position to continue after in an oldest-first list: no cursor is before every row, (-infinity, nil uuid).</summary>
    public static (DateTimeOffset CreatedAt, Guid Id) After(PageCursor? after) =>
        after is { } cursor ? (Timestamptz(cursor.CreatedAt), cursor.Id) : (DateTimeOffset.MinValue, Guid.Empty);

    /// <summary>Rows were fetched with limit + 1: the extra row only says whether a next page exists.</summary>
    public static Page<T> ToPage<T>(IEnumerable<T> fetched, int limit, Func<T, PageCursor> cursorOf)
    {
        var rows = fetched.AsList();
        if (rows.Count <= limit)
        {
            return new Page<T>(rows, null);
        }

        rows.RemoveAt(rows.Count - 1);
        return new Page<T>(rows, cursorOf(rows[^1]));
    }
}
