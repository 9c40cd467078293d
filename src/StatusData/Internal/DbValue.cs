using System.Data;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace StatusData.Internal;

/// <summary>
/// A parameter with its exact PostgreSQL type, for the two CLR types Dapper cannot bind right on its
/// own: <see cref="DateOnly"/> (Dapper 2.1 has no mapping) and UTC <see cref="DateTime"/> for
/// <c>timestamptz</c> (Dapper sends <see cref="DbType.DateTime"/>, which Npgsql maps to
/// <c>timestamp without time zone</c>). This is per parameter: no process-wide Dapper type handler
/// that would change the host application's own Dapper code.
/// </summary>
internal sealed class DbValue<T>(T value, NpgsqlDbType type) : SqlMapper.ICustomQueryParameter
{
    public void AddParameter(IDbCommand command, string name) =>
        command.Parameters.Add(new NpgsqlParameter<T>(name, type) { TypedValue = value });
}

internal static class DbValue
{
    public static DbValue<DateOnly> Date(DateOnly value) => new(value, NpgsqlDbType.Date);

    public static DbValue<DateTime> Timestamp(DateTime utc) => new(utc, NpgsqlDbType.TimestampTz);

    /// <summary>The sentinel cursor that sorts after every row: (+infinity, max uuid).</summary>
    public static readonly PageCursor End = new(DateTime.MaxValue, Guid.AllBitsSet);

    /// <summary>The sentinel cursor that sorts before every row: (-infinity, nil uuid).</summary>
    public static readonly PageCursor Start = new(DateTime.MinValue, Guid.Empty);

    /// <summary>A cursor's timestamp, checked to be UTC: the database compares instants.</summary>
    public static DbValue<DateTime> CursorTimestamp(PageCursor cursor, string paramName)
    {
        if (cursor.CreatedAt.Kind != DateTimeKind.Utc && cursor.CreatedAt != DateTime.MaxValue && cursor.CreatedAt != DateTime.MinValue)
        {
            throw new ArgumentException($"{paramName}.CreatedAt must be a UTC DateTime (Kind = Utc); got Kind = {cursor.CreatedAt.Kind}. Use the cursor from Page.Next or PageCursor.After.", paramName);
        }

        return Timestamp(DateTime.SpecifyKind(cursor.CreatedAt, DateTimeKind.Utc));
    }
}
