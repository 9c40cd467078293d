using Npgsql;
using NpgsqlTypes;

namespace StatusData.Internal;

/// <summary>Keyset pages: the cursor's two parameters, and the page made of limit + 1 rows.</summary>
internal static class Paging
{
    /// <summary>The sentinel cursor that sorts after every row: (+infinity, max uuid).</summary>
    public static readonly PageCursor End = new(DateTime.MaxValue, Guid.AllBitsSet);

    /// <summary>The sentinel cursor that sorts before every row: (-infinity, nil uuid).</summary>
    public static readonly PageCursor Start = new(DateTime.MinValue, Guid.Empty);

    /// <summary>
    /// A cursor's timestamp as a <c>timestamptz</c> parameter, checked to be UTC: the database compares
    /// instants. The sentinels' <see cref="DateTime.MinValue"/> and <see cref="DateTime.MaxValue"/> are
    /// sent as -infinity and +infinity (Npgsql's default mapping).
    /// </summary>
    public static NpgsqlParameter<DateTime> CursorTimestamp(PageCursor cursor, string paramName)
    {
        if (cursor.CreatedAt.Kind != DateTimeKind.Utc && cursor.CreatedAt != DateTime.MaxValue && cursor.CreatedAt != DateTime.MinValue)
        {
            throw new ArgumentException($"{paramName}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {cursor.CreatedAt.Kind}. Use the cursor from Page.Next or PageCursor.After.", paramName);
        }

        return new NpgsqlParameter<DateTime> { TypedValue = DateTime.SpecifyKind(cursor.CreatedAt, DateTimeKind.Utc), NpgsqlDbType = NpgsqlDbType.TimestampTz };
    }

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
