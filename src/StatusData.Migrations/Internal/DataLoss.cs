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
    /// <summary>One destructive step: a table (Column null), a column, or something the runner cannot inspect (Uninspectable set).</summary>
    public sealed record Destruction(string? Schema, string Table, string? Column = null, string? Uninspectable = null)
    {
        public override string ToString() =>
            Uninspectable is not null ? $"runs {Uninspectable}, which may destroy data and which the runner cannot inspect"
            : Column is null ? $"drops table {Name}"
            : $"drops column {Name}.{Column}";

        private string Name => Schema is null ? Table : $"{Schema}.{Table}";
    }

    /// <summary>What <paramref name="migration"/>'s Down step destroys, in its order.</summary>
    /// <remarks>
    /// Expressions inside <c>IfDatabase(...)</c> are not seen: FluentMigrator evaluates them against a query schema, which
    /// this reading without a database does not have. docs/migrations.md says so.
    /// </remarks>
    public static IReadOnlyList<Destruction> OfDown(IMigration migration)
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var context = new MigrationContext(null!, services, connection: null!);
        migration.GetDownExpressions(context);
        return context.Expressions.SelectMany(expression => expression switch
        {
            DeleteTableExpression table => [new Destruction(table.SchemaName, table.TableName)],
            DeleteColumnExpression column => column.ColumnNames.Select(name => new Destruction(column.SchemaName, column.TableName, name)),
            DeleteDataExpression data => [new Destruction(data.SchemaName, data.TableName)],
            DeleteSchemaExpression schema => [new Destruction(null, string.Empty, Uninspectable: $"a drop of schema {schema.SchemaName}")],
            ExecuteSqlStatementExpression sql when DestructiveSql().IsMatch(sql.SqlStatement) => [new Destruction(null, string.Empty, Uninspectable: $"SQL ({FirstLine(sql.SqlStatement)})")],
            ExecuteSqlScriptExpression script => [new Destruction(null, string.Empty, Uninspectable: $"the SQL script {script.SqlScript}")],
            ExecuteEmbeddedSqlScriptExpressionBase => [new Destruction(null, string.Empty, Uninspectable: "an embedded SQL script")],
            PerformDBOperationExpression => [new Destruction(null, string.Empty, Uninspectable: "code of its own on the connection (Execute.WithConnection)")],
            _ => [],
        }).ToList();
    }

    /// <summary>
    /// What each destruction would take away now: "table users holds 12 rows", or for SQL the runner cannot
    /// inspect, that it cannot tell. Empty when every table and column it drops is empty (or already gone).
    /// </summary>
    public static async Task<List<string>> AtStakeAsync(NpgsqlConnection connection, IEnumerable<Destruction> destructions, CancellationToken cancellationToken)
    {
        // The count runs on the server: format('%I') quotes the names, query_to_xml runs the query it builds. A table
        // or column that is not there holds nothing (NULL).
        const string count = """
            SELECT CASE
                WHEN to_regclass(format('%I.%I', coalesce($3, current_schema()), $1)) IS NULL THEN NULL
                WHEN $2 IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM pg_attribute
                    WHERE attrelid = to_regclass(format('%I.%I', coalesce($3, current_schema()), $1)) AND attname = $2 AND NOT attisdropped) THEN NULL
                ELSE (xpath('/row/n/text()', query_to_xml(
                    format('SELECT count(%s) AS n FROM %I.%I', coalesce(quote_ident($2), '*'), coalesce($3, current_schema()), $1), false, true, '')))[1]::text::bigint
                END
            """;
        var atStake = new List<string>();
        foreach (var destruction in destructions)
        {
            if (destruction.Uninspectable is not null)
            {
                atStake.Add($"it {destruction}, so how much it destroys is unknown");
                continue;
            }

            using var command = new NpgsqlCommand(count, connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = destruction.Table });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)destruction.Column ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)destruction.Schema ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long n and > 0)
            {
                var name = destruction.Schema is null ? destruction.Table : $"{destruction.Schema}.{destruction.Table}";
                atStake.Add(destruction.Column is null
                    ? $"table {name} holds {n} row{(n == 1 ? string.Empty : "s")}"
                    : $"column {name}.{destruction.Column} holds {n} value{(n == 1 ? string.Empty : "s")}");
            }
        }

        return atStake;
    }

    private static string FirstLine(string sql) => sql.Trim().Split('\n')[0].Trim();

    [GeneratedRegex(@"\b(DROP\s+(TABLE|SCHEMA|COLUMN|TYPE|DOMAIN)|TRUNCATE|DELETE\s+FROM|CASCADE)\b|\bALTER\s+TABLE\b[^;]*\bDROP\s+(?!CONSTRAINT\b|DEFAULT\b|NOT\b|INDEX\b|IDENTITY\b|EXPRESSION\b)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DestructiveSql();
}
