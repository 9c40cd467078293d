using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Npgsql;

namespace StatusData.Internal;

/// <summary>
/// Every statement the repositories run, run the way the Npgsql documentation recommends for hot paths: SQL with
/// positional <c>$n</c> parameters (Npgsql sends it as is, with no client-side rewriting of named
/// parameters), explicitly prepared, and read by ordinal. Npgsql keeps an explicitly prepared statement
/// on its physical connection across pool checkouts, so the server parses and plans each statement once
/// per connection (the first call there pays one extra round trip for the preparation); afterwards
/// <see cref="NpgsqlCommand.PrepareAsync(CancellationToken)"/> sends nothing and each call is one round trip.
/// This does not depend on the caller's connection string (<c>Max Auto Prepare</c>), which the library
/// cannot set on a data source it is given.
/// </summary>
internal static class Prepared
{
    /// <summary>Runs a query and reads its first row with <paramref name="read"/>, or returns <see langword="default"/> without rows.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<T?> QuerySingleAsync<T>(Session session, NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        var command = await CommandAsync(session, connection, sql, parameters, cancellationToken).ConfigureAwait(false);
        try
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? read(reader) : default;
            }
        }
        finally
        {
            await ReleaseAsync(command).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a query and reads every row with <paramref name="read"/>; <paramref name="capacity"/> is the most rows it can return.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<List<T>> QueryListAsync<T>(Session session, NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, int capacity, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        var command = await CommandAsync(session, connection, sql, parameters, cancellationToken).ConfigureAwait(false);
        try
        {
            var rows = new List<T>(capacity);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(read(reader));
                }
            }

            return rows;
        }
        finally
        {
            await ReleaseAsync(command).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a statement without results; returns the number of rows it affected.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> ExecuteAsync(Session session, NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        var command = await CommandAsync(session, connection, sql, parameters, cancellationToken).ConfigureAwait(false);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync(command).ConfigureAwait(false);
        }
    }

    /// <summary>The columns of a <c>users</c> row, in the order <see cref="ReadUser"/> reads them.</summary>
    public const string UserColumns = "id, username, display_name, email, password_hash, avatar_url, xp, current_streak, longest_streak, last_post_date, created_at";

    /// <summary>The columns of a <c>status_updates</c> row, in the order <see cref="ReadStatusUpdate"/> reads them.</summary>
    public const string StatusUpdateColumns = "id, user_id, message, category, created_at";

    /// <summary>
    /// A status update <c>s</c> and its author <c>u</c>, in the order <see cref="ReadStatusUpdateWithAuthor"/> reads
    /// them: <see cref="StatusUpdateColumns"/>, then <see cref="UserColumns"/>, each qualified (both have <c>id</c>
    /// and <c>created_at</c>). A const cannot be computed from the other two; keep the three in step.
    /// </summary>
    public const string StatusUpdateWithAuthorColumns = """
        s.id, s.user_id, s.message, s.category, s.created_at,
        u.id, u.username, u.display_name, u.email, u.password_hash, u.avatar_url,
        u.xp, u.current_streak, u.longest_streak, u.last_post_date, u.created_at
        """;

    /// <summary>A <c>users</c> row (<see cref="UserColumns"/>), starting at column <paramref name="at"/>.</summary>
    public static User ReadUser(NpgsqlDataReader reader, int at) => new(
        reader.GetGuid(at),
        reader.GetString(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetString(at + 4),
        reader.IsDBNull(at + 5) ? null : reader.GetString(at + 5),
        reader.GetInt32(at + 6),
        reader.GetInt32(at + 7),
        reader.GetInt32(at + 8),
        reader.IsDBNull(at + 9) ? null : reader.GetFieldValue<DateOnly>(at + 9),
        reader.GetFieldValue<DateTime>(at + 10));

    /// <summary>A <c>status_updates</c> row (<see cref="StatusUpdateColumns"/>), starting at column <paramref name="at"/>.</summary>
    public static StatusUpdate ReadStatusUpdate(NpgsqlDataReader reader, int at) => new(
        reader.GetGuid(at),
        reader.GetGuid(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetFieldValue<DateTime>(at + 4));

    /// <summary>A status update and its author (<see cref="StatusUpdateWithAuthorColumns"/>): the update's five columns, then the user's eleven.</summary>
    public static StatusUpdateWithAuthor ReadStatusUpdateWithAuthor(NpgsqlDataReader reader) =>
        new(ReadStatusUpdate(reader, 0), ReadUser(reader, 5));

    /// <summary>A positional parameter; its PostgreSQL type comes from <typeparamref name="T"/>.</summary>
    public static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };

    /// <summary>A positional parameter that may be NULL, with its type fixed, so the prepared statement fits every call.</summary>
    public static NpgsqlParameter Nullable(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Every caller passes a const string of the repositories; SqlIsConstantTests follows this parameter to them.")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<NpgsqlCommand> CommandAsync(Session session, NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, session.Transaction);
        try
        {
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(parameter);
            }

            // Off for PgBouncer in transaction mode before 1.21, where a statement prepared on one server
            // connection is missing on the next (StatusDataOptions.PrepareStatements, docs/scaling.md).
            if (session.Options.PrepareStatements)
            {
                await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }
            return command;
        }
        catch
        {
            await ReleaseAsync(command).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Detaches the parameters before disposing: the caller's parameter array outlives the command when
    /// <see cref="Session"/> retries a read on a new connection, and a parameter can belong to one command only.
    /// </summary>
    private static ValueTask ReleaseAsync(NpgsqlCommand command)
    {
        command.Parameters.Clear();
        return command.DisposeAsync();
    }

    /// <summary><see cref="QuerySingleAsync"/> as a statement for <see cref="Session"/>.</summary>
    public readonly struct SingleRow<T>(string sql, NpgsqlParameter[] parameters, Func<NpgsqlDataReader, T> read) : IStatement<T?>
    {
        public ValueTask<T?> RunAsync(Session session, NpgsqlConnection connection, CancellationToken cancellationToken) =>
            QuerySingleAsync(session, connection, sql, parameters, read, cancellationToken);
    }

    /// <summary><see cref="QueryListAsync"/> as a statement for <see cref="Session"/>.</summary>
    public readonly struct Rows<T>(string sql, NpgsqlParameter[] parameters, int capacity, Func<NpgsqlDataReader, T> read) : IStatement<List<T>>
    {
        public ValueTask<List<T>> RunAsync(Session session, NpgsqlConnection connection, CancellationToken cancellationToken) =>
            QueryListAsync(session, connection, sql, parameters, capacity, read, cancellationToken);
    }

    /// <summary><see cref="ExecuteAsync"/> as a statement for <see cref="Session"/>.</summary>
    public readonly struct NonQuery(string sql, NpgsqlParameter[] parameters) : IStatement<int>
    {
        public ValueTask<int> RunAsync(Session session, NpgsqlConnection connection, CancellationToken cancellationToken) =>
            ExecuteAsync(session, connection, sql, parameters, cancellationToken);
    }
}
