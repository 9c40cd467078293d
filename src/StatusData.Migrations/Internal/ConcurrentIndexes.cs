using System.Data;
using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure;
using FluentMigrator.Infrastructure.Extensions;
using FluentMigrator.Model;
using FluentMigrator.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Index builds and drops with PostgreSQL's CONCURRENTLY, as FluentMigrator's PostgreSQL extension marks them
/// (<c>.WithOptions().AsConcurrently()</c>; for drops, StatusData's <see cref="ConcurrentIndexExtensions"/> sets the same
/// mark). They run outside a transaction (<see cref="TransactionBehavior.None"/>), so what a build that failed or was
/// killed leaves behind has to be found by the next run: this is how.
/// </summary>
internal static class ConcurrentIndexes
{
    /// <summary>What an earlier run left under an index's name.</summary>
    public enum Leftover
    {
        /// <summary>No relation of that name.</summary>
        None,

        /// <summary>An INVALID index: a concurrent build or drop that failed or was killed. Drop it and build again.</summary>
        Invalid,

        /// <summary>A valid index on the same table, columns and uniqueness: a build that finished before its run stopped.</summary>
        Built,

        /// <summary>Something else of that name: the build fails with PostgreSQL's own "already exists".</summary>
        Other,
    }

    public static bool IsConcurrent(IndexDefinition index) =>
        index.GetAdditionalFeature<PostgresIndexConcurrentlyDefinition>(PostgresExtensions.Concurrently)?.IsConcurrently == true;

    /// <summary>
    /// Whether <paramref name="migration"/>'s step in <paramref name="direction"/> is nothing but concurrent index builds
    /// and drops: then running it again after a failure is safe (builds skip or redo what an earlier attempt left;
    /// drops use IF EXISTS).
    /// </summary>
    public static bool OnlyConcurrentIndexOperations(IMigration migration, MigrationDirection direction)
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var context = new MigrationContext(null!, services, connection: null!);
        if (direction == MigrationDirection.Up)
        {
            migration.GetUpExpressions(context);
        }
        else
        {
            migration.GetDownExpressions(context);
        }

        return context.Expressions.Count > 0 && context.Expressions.All(e => e switch
        {
            CreateIndexExpression create => IsConcurrent(create.Index),
            DeleteIndexExpression delete => IsConcurrent(delete.Index),
            _ => false,
        });
    }

    /// <summary>Reads what the database holds under <paramref name="index"/>'s name, on the runner's own connection.</summary>
    public static Leftover Find(IDbConnection connection, IndexDefinition index)
    {
        const string sql = """
            SELECT i.indisvalid, i.indisunique, t.relname, i.indexprs IS NULL AND i.indpred IS NULL,
                   ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_class c
            LEFT JOIN pg_index i ON i.indexrelid = c.oid
            LEFT JOIN pg_class t ON t.oid = i.indrelid
            WHERE c.oid = to_regclass(format('%I.%I', coalesce($1, current_schema()), $2))
            """;
        using var command = new NpgsqlCommand(sql, (NpgsqlConnection)connection);
        command.Parameters.Add(new NpgsqlParameter { Value = string.IsNullOrEmpty(index.SchemaName) ? DBNull.Value : index.SchemaName, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = index.Name });
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return Leftover.None;
        }

        if (reader.IsDBNull(0))
        {
            return Leftover.Other; // a table or sequence of that name, not an index
        }

        if (!reader.GetBoolean(0))
        {
            return Leftover.Invalid;
        }

        var columns = reader.GetFieldValue<string[]>(4);
        var same = reader.GetBoolean(1) == index.IsUnique
            && reader.GetString(2) == index.TableName
            && reader.GetBoolean(3)
            && columns.SequenceEqual(index.Columns.Select(c => c.Name));
        return same ? Leftover.Built : Leftover.Other;
    }

    /// <summary>Whether the index named like <paramref name="index"/> is valid: a concurrent build that returned must have left it so.</summary>
    public static bool IsValid(IDbConnection connection, IndexDefinition index)
    {
        using var command = new NpgsqlCommand(
            "SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(format('%I.%I', coalesce($1, current_schema()), $2))), false)",
            (NpgsqlConnection)connection);
        command.Parameters.Add(new NpgsqlParameter { Value = string.IsNullOrEmpty(index.SchemaName) ? DBNull.Value : index.SchemaName, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = index.Name });
        return (bool)command.ExecuteScalar()!;
    }
}
