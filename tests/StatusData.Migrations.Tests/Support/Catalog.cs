using Npgsql;

namespace StatusData.Migrations.Tests.Support;

/// <summary>A column as pg_attribute records it; <c>Type</c> is format_type's spelling.</summary>
internal sealed record ColumnFact(string Name, string Type, bool NotNull, bool HasDefault = false);

/// <summary>
/// A constraint as pg_constraint records it: <c>Type</c> is contype (p, u, f, c, x); for foreign keys
/// <c>References</c> is "schema.table(columns)" and OnDelete/OnUpdate are confdeltype/confupdtype
/// ('a' = no action, 'c' = cascade, ...).
/// </summary>
internal sealed record ConstraintFact(
    string Name, string Type, string Columns, string? References = null, string? OnDelete = null, string? OnUpdate = null, bool Deferrable = false);

/// <summary>An index as pg_index records it. <c>Plain</c>: no expressions and no predicate.</summary>
internal sealed record IndexFact(string Name, string Columns, bool Unique = false, bool Primary = false, string Method = "btree", bool Plain = true);

/// <summary>Reads schema facts straight from pg_catalog, independently of the runner's own SchemaComparison.</summary>
internal static class Catalog
{
    private const string ColumnsSql = """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               (d.adbin IS NOT NULL OR a.attidentity <> '' OR a.attgenerated <> '')
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """;

    private const string ConstraintsSql = """
        SELECT con.conname, con.contype::text,
               array_to_string(ARRAY(
                   SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord), ','),
               CASE WHEN con.contype = 'f' THEN
                   (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = con.confrelid)
                   || '(' || array_to_string(ARRAY(
                       SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') || ')'
               END,
               CASE WHEN con.contype = 'f' THEN con.confdeltype::text END,
               CASE WHEN con.contype = 'f' THEN con.confupdtype::text END,
               con.condeferrable
        FROM pg_constraint con
        WHERE con.conrelid = $1::regclass
        ORDER BY con.conname
        """;

    private const string IndexesSql = """
        SELECT i.relname,
               array_to_string(ARRAY(
                   SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord), ','),
               x.indisunique, x.indisprimary, am.amname, x.indexprs IS NULL AND x.indpred IS NULL
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_am am ON am.oid = i.relam
        WHERE x.indrelid = $1::regclass
        ORDER BY i.relname
        """;

    // Tables, views, sequences, foreign tables... in every schema except the system ones.
    private const string RelationsSql = """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
        ORDER BY 1
        """;

    private const string SchemasSql = """
        SELECT nspname FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%'
        ORDER BY 1
        """;

    public static Task<List<ColumnFact>> ColumnsAsync(NpgsqlDataSource dataSource, string table, CancellationToken cancellationToken) =>
        ReadAsync(dataSource, ColumnsSql, table, r => new ColumnFact(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3)), cancellationToken);

    public static Task<List<ConstraintFact>> ConstraintsAsync(NpgsqlDataSource dataSource, string table, CancellationToken cancellationToken) =>
        ReadAsync(
            dataSource,
            ConstraintsSql,
            table,
            r => new ConstraintFact(
                r.GetString(0), r.GetString(1), r.GetString(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetBoolean(6)),
            cancellationToken);

    public static Task<List<IndexFact>> IndexesAsync(NpgsqlDataSource dataSource, string table, CancellationToken cancellationToken) =>
        ReadAsync(dataSource, IndexesSql, table, r => new IndexFact(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3), r.GetString(4), r.GetBoolean(5)), cancellationToken);

    /// <summary>Every non-system relation as "schema.name", sorted.</summary>
    public static Task<List<string>> RelationsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ReadAsync(dataSource, RelationsSql, null, r => r.GetString(0), cancellationToken);

    /// <summary>Every schema, relation, column, constraint and index outside the system schemas, one line each.</summary>
    public static async Task<List<string>> SnapshotAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var lines = (await ReadAsync(dataSource, SchemasSql, null, r => "schema " + r.GetString(0), cancellationToken)).ToList();
        foreach (var relation in await RelationsAsync(dataSource, cancellationToken))
        {
            lines.Add("relation " + relation);
            lines.AddRange((await ColumnsAsync(dataSource, relation, cancellationToken)).Select(f => $"{relation} {f}"));
            lines.AddRange((await ConstraintsAsync(dataSource, relation, cancellationToken)).Select(f => $"{relation} {f}"));
            lines.AddRange((await IndexesAsync(dataSource, relation, cancellationToken)).Select(f => $"{relation} {f}"));
        }

        return lines;
    }

    private static async Task<List<T>> ReadAsync<T>(NpgsqlDataSource dataSource, string sql, string? table, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        if (table is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }
}
