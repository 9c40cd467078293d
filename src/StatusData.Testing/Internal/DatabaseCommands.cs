using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Npgsql;

namespace StatusData.Testing.Internal;

/// <summary>
/// CREATE and DROP DATABASE on the admin connection. Database names cannot be bind parameters, so they go into
/// the text, and only names of <see cref="Ownership"/>'s form (or <c>template0</c>) are accepted.
/// </summary>
internal static partial class DatabaseCommands
{
    private const string ListByPrefix = "SELECT datname FROM pg_database WHERE starts_with(datname, $1)";

    /// <summary>Creates <paramref name="name"/> as a copy of <paramref name="template"/>.</summary>
    public static Task CreateAsync(string adminConnectionString, string name, string template, CancellationToken cancellationToken) =>
        ExecuteAsync(adminConnectionString, $"CREATE DATABASE {Checked(name)} TEMPLATE {Checked(template)}", cancellationToken);

    /// <summary>Drops <paramref name="name"/> if it exists, ending every session connected to it.</summary>
    public static Task DropAsync(string adminConnectionString, string name, CancellationToken cancellationToken) =>
        ExecuteAsync(adminConnectionString, $"DROP DATABASE IF EXISTS {Checked(name)} WITH (FORCE)", cancellationToken);

    /// <summary>The databases whose names start with <paramref name="prefix"/>.</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(string adminConnectionString, string prefix, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(adminConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand(ListByPrefix, connection) { Parameters = { new() { Value = prefix } } };
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var names = new List<string>();
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        names.Add(reader.GetString(0));
                    }

                    return names;
                }
            }
        }
    }

    /// <summary>Closes the idle pooled connections of <paramref name="connectionString"/>.</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        NpgsqlConnection.ClearPool(connection);
    }

    private static string Checked(string name) =>
        OurName().IsMatch(name) ? name : throw new ArgumentException($"'{name}' is not a database name StatusData.Testing makes.", nameof(name));

    [GeneratedRegex("^[a-z0-9_]{1,63}$")]
    private static partial Regex OurName();

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "CREATE/DROP DATABASE of names checked against ^[a-z0-9_]+$ above; identifiers cannot be parameters.")]
    private static async Task ExecuteAsync(string adminConnectionString, string sql, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(adminConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
