using System.Text.RegularExpressions;
using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// What a migration's Down step destroys, read from FluentMigrator's expressions (the migration as data, not its
/// SQL): tables and columns it drops, rows it deletes, and SQL of its own that may drop or delete, which the runner
/// cannot inspect. <c>down</c> and <c>rollback</c> count what those hold before anything runs, and refuse unless the
/// caller allows data loss (<see cref="StatusDataMigratorOptions.AllowDataLoss"/>).
/// </summary>
internal static partial class DataLoss
{
    /// <summary>One destructive step: a table (Column null), a column, or SQL the runner cannot inspect (Sql set).</summary>
    public sealed record Destruction(string Table, string? Column = null, string? Sql = null)
    {
        public override string ToString() =>
            Sql is not null ? $"runs SQL that may destroy data, which the runner cannot inspect ({FirstLine(Sql)})"
            : Column is null ? $"drops table {Table}"
            : $"drops column {Table}.{Column}";
    }

    /// <summary>What <paramref name="migration"/>'s Down step destroys, in its order.</summary>
    public static IReadOnlyList<Destruction> OfDown(IMigration migration)
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var context = new MigrationContext(null!, services, connection: null!);
        migration.GetDownExpressions(context);
        return context.Expressions.SelectMany(expression => expression switch
        {
            DeleteTableExpression table => [new Destruction(table.TableName)],
            DeleteColumnExpression column => column.ColumnNames.Select(name => new Destruction(column.TableName, name)),
            DeleteDataExpression data => [new Destruction(data.TableName)],
            ExecuteSqlStatementExpression sql when DestructiveSql().IsMatch(sql.SqlStatement) => [new Destruction(string.Empty, Sql: sql.SqlStatement)],
            _ => [],
        }).ToList();
    }

    /// <summary>
    /// What each destruction would take away now: "table users holds 12 rows", or for SQL the runner cannot
    /// inspect, that it cannot tell. Empty when every table and column it drops is empty (or already gone).
    /// </summary>
    public static async Task<List<string>> AtStakeAsync(NpgsqlConnection connection, IEnumerable<Destruction> destructions, CancellationToken cancellationToken)
    {
        // The count runs on the server: format('%I') quotes the names, query_to_xml runs the query it builds.
        const string count = """
            SELECT CASE WHEN to_regclass(quote_ident($1)) IS NULL THEN NULL
                   ELSE (xpath('/row/n/text()', query_to_xml(format('SELECT count(%s) AS n FROM %I', coalesce(quote_ident($2), '*'), $1), false, true, '')))[1]::text::bigint
                   END
            """;
        var atStake = new List<string>();
        foreach (var destruction in destructions)
        {
            if (destruction.Sql is not null)
            {
                atStake.Add($"it {destruction}, so how much it destroys is unknown");
                continue;
            }

            using var command = new NpgsqlCommand(count, connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = destruction.Table });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)destruction.Column ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long n and > 0)
            {
                atStake.Add(destruction.Column is null
                    ? $"table {destruction.Table} holds {n} row{(n == 1 ? string.Empty : "s")}"
                    : $"column {destruction.Table}.{destruction.Column} holds {n} value{(n == 1 ? string.Empty : "s")}");
            }
        }

        return atStake;
    }

    private static string FirstLine(string sql) => sql.Trim().Split('\n')[0].Trim();

    [GeneratedRegex(@"\b(DROP\s+(TABLE|SCHEMA|COLUMN)|TRUNCATE|DELETE\s+FROM)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DestructiveSql();
}
