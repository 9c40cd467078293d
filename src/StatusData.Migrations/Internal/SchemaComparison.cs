using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Compares the live schema with what a set of migrations creates, fact by fact in the catalog:
/// columns (type, nullability, default), constraints (with their definitions and names) and indexes.
/// </summary>
/// <remarks>
/// The expected side is not a hand-kept description: the SQL FluentMigrator generates for the migrations,
/// with the scratch schema as its default schema, is run inside a savepoint, read back from the catalog,
/// and rolled back. Only tables the migrations create are
/// compared; unrelated tables (and <c>alembic_version</c>) are ignored.
/// </remarks>
internal static class SchemaComparison
{
    private const string SnapshotSql = """
        WITH t AS (
            SELECT c.oid, c.relname, n.nspname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
              AND c.relname NOT IN ('version_info', 'alembic_version')
        )
        SELECT t.relname, 'table ' || t.relname FROM t
        UNION ALL
        SELECT t.relname, format('column %s.%s %s %s%s', t.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
                   coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                   || CASE WHEN a.attidentity <> '' THEN ' IDENTITY' ELSE '' END
                   || CASE WHEN a.attgenerated <> '' THEN ' GENERATED' ELSE '' END)
        FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        UNION ALL
        SELECT t.relname, format('constraint %s.%s %s', t.relname, con.conname, pg_get_constraintdef(con.oid))
        FROM t JOIN pg_constraint con ON con.conrelid = t.oid
        UNION ALL
        SELECT t.relname, format('index %s.%s %s', t.relname, i.relname,
                   replace(pg_get_indexdef(i.oid), ' ON ' || quote_ident(t.nspname) || '.', ' ON '))
        FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
        """;

    /// <summary>Returns the differences, one line each; empty when the schema matches.</summary>
    public const string ScratchSchema = "statusdata_baseline_check";

    /// <param name="connection">An open connection in a transaction.</param>
    /// <param name="expectedSql">What the migrations run, naming <see cref="ScratchSchema"/> wherever they name no schema.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    public static async Task<IReadOnlyList<string>> CompareAsync(
        NpgsqlConnection connection, IReadOnlyList<string> expectedSql, CancellationToken cancellationToken)
    {
        var actual = await SnapshotAsync(connection, cancellationToken).ConfigureAwait(false);

        await ExecuteAsync(connection, "SAVEPOINT statusdata_baseline_check", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE SCHEMA statusdata_baseline_check", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "SET LOCAL search_path TO statusdata_baseline_check", cancellationToken).ConfigureAwait(false);
        foreach (var statement in expectedSql)
        {
            await ExecuteAsync(connection, statement, cancellationToken).ConfigureAwait(false);
        }

        var expected = await SnapshotAsync(connection, cancellationToken).ConfigureAwait(false);

        // Undoes the scratch schema and the search_path change alike.
        await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT statusdata_baseline_check", cancellationToken).ConfigureAwait(false);

        var expectedTables = expected.Select(f => f.Table).ToHashSet();
        var expectedFacts = expected.Select(f => f.Fact).ToHashSet();
        var actualFacts = actual.Where(f => expectedTables.Contains(f.Table)).Select(f => f.Fact).ToHashSet();
        return expectedFacts.Except(actualFacts).Order(StringComparer.Ordinal).Select(f => "missing:    " + f)
            .Concat(actualFacts.Except(expectedFacts).Order(StringComparer.Ordinal).Select(f => "unexpected: " + f))
            .ToList();
    }

    private static async Task<List<(string Table, string Fact)>> SnapshotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var facts = new List<(string, string)>();
        using var command = new NpgsqlCommand(SnapshotSql, connection);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            facts.Add((reader.GetString(0), reader.GetString(1)));
        }

        return facts;
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Runs the constants above and the SQL FluentMigrator generates for our own migrations (MigrationCatalog.UpSqlInSchema); never a caller's text.")]
    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
