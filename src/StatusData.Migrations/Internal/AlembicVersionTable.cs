using FluentMigrator;
using FluentMigrator.Expressions;

namespace StatusData.Migrations.Internal;

/// <summary>
/// Alembic's <c>alembic_version</c>, in Alembic's exact shape, kept in step with <c>version_info</c> for
/// migrations marked <see cref="MirrorsAlembicRevisionAttribute"/>. The statements go through
/// FluentMigrator's processor inside the migration's own transaction (FluentMigrator quotes the values),
/// so they are also what <c>script</c> prints.
/// </summary>
internal static class AlembicVersionTable
{
    public const string Name = "alembic_version";

    // What Alembic itself creates (alembic/runtime/migration.py): no schema, varchar(32), primary key alembic_version_pkc.
    public const string CreateSql = """
        CREATE TABLE IF NOT EXISTS alembic_version (
            version_num character varying(32) NOT NULL,
            CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
        )
        """;

    /// <summary>After <paramref name="migration"/> went up: its revision replaces the one before it.</summary>
    public static void Applied(IMigrationProcessor processor, KnownMigration migration)
    {
        if (migration.AlembicRevision is null)
        {
            return;
        }

        processor.Execute(CreateSql);
        Replace(processor, migration.AlembicRevisionBefore, migration.AlembicRevision);
    }

    /// <summary>After <paramref name="migration"/> went down: the revision before it comes back (none at Alembic's base).</summary>
    public static void Reverted(IMigrationProcessor processor, KnownMigration migration)
    {
        if (migration.AlembicRevision is not null)
        {
            Replace(processor, migration.AlembicRevision, migration.AlembicRevisionBefore);
        }
    }

    private static void Replace(IMigrationProcessor processor, string? from, string? to)
    {
        if (from is not null)
        {
            var delete = new DeleteDataExpression { TableName = Name };
            delete.Rows.Add([new KeyValuePair<string, object>("version_num", from)]);
            processor.Process(delete);
        }

        if (to is not null)
        {
            var insert = new InsertDataExpression { TableName = Name };
            insert.Rows.Add([new KeyValuePair<string, object>("version_num", to)]);
            processor.Process(insert);
        }
    }
}
