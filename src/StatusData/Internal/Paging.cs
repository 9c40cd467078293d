namespace StatusData.Internal;

internal static class Paging
{
    /// <summary>Rows were fetched with limit + 1: the extra row only says whether a next page exists.</summary>
    public static Page<T> ToPage<T>(List<T> rows, int limit, Func<T, PageCursor> cursorOf)
    {
        if (rows.Count <= limit)
        {
            return new Page<T>(rows, null);
        }

        rows.RemoveAt(rows.Count - 1);
        return new Page<T>(rows, cursorOf(rows[^1]));
    }
}
