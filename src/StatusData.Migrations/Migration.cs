namespace StatusData.Migrations;

/// <summary>
/// One versioned schema change, shaped like a FluentMigrator migration: a class with a
/// <see cref="MigrationAttribute"/> that says its version and description, and
/// <see cref="Up"/> and <see cref="Down"/> steps made of SQL statements.
/// </summary>
/// <remarks>
/// The statements must use unqualified table names (no <c>public.</c>): the runner replays them in a
/// scratch schema to verify a database before <see cref="MigrationRunner.BaselineAsync"/>.
/// Every migration runs in one transaction together with its version-table row, so it must not use
/// statements that cannot run inside a transaction (such as <c>CREATE INDEX CONCURRENTLY</c>).
/// </remarks>
public abstract class Migration
{
    private List<string>? _statements;

    /// <summary>Describes the change towards the new version by calling <see cref="Sql"/>.</summary>
    public abstract void Up();

    /// <summary>Describes how to undo <see cref="Up"/> by calling <see cref="Sql"/>.</summary>
    public abstract void Down();

    /// <summary>Adds one SQL statement to the step being described (FluentMigrator's <c>Execute.Sql</c>).</summary>
    /// <param name="statement">A single SQL statement, without a trailing semicolon.</param>
    protected void Sql(string statement)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(statement);
        if (_statements is null)
        {
            throw new InvalidOperationException("Sql() can only be called from Up() or Down().");
        }

        _statements.Add(statement.Trim().TrimEnd(';').ReplaceLineEndings("\n"));
    }

    internal IReadOnlyList<string> Describe(bool up)
    {
        _statements = [];
        try
        {
            if (up)
            {
                Up();
            }
            else
            {
                Down();
            }

            return _statements;
        }
        finally
        {
            _statements = null;
        }
    }
}

/// <summary>Gives a <see cref="Migration"/> its version and description.</summary>
/// <param name="version">The version as a 64-bit number in the form <c>yyyyMMddHHmm</c> (UTC).</param>
/// <param name="description">What the migration does; stored in the version table.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class MigrationAttribute(long version, string description) : Attribute
{
    /// <summary>The version, <c>yyyyMMddHHmm</c>.</summary>
    public long Version { get; } = version;

    /// <summary>What the migration does.</summary>
    public string Description { get; } = description;
}
