using System.Text.RegularExpressions;

namespace StatusData.Migrations;

/// <summary>
/// Says that a migration makes exactly the schema change of an Alembic revision of the Python side.
/// Applying the migration then also records that revision in <c>alembic_version</c>, in the same
/// transaction; reverting it restores the revision of the previous mirroring migration (or removes the
/// row when there is none), so <c>alembic current</c> agrees with <c>version_info</c> whichever tool ran.
/// </summary>
/// <param name="revision">The Alembic revision id, e.g. <c>a1b2c3d4e5f6</c>: 1 to 32 letters, digits or underscores.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed partial class MirrorsAlembicRevisionAttribute(string revision) : Attribute
{
    /// <summary>The Alembic revision id.</summary>
    public string Revision { get; } = RevisionId().IsMatch(revision ?? string.Empty)
        ? revision!
        : throw new ArgumentException($"'{revision}' is not an Alembic revision id (1 to 32 letters, digits or underscores; alembic_version.version_num is varchar(32)).", nameof(revision));

    [GeneratedRegex("^[A-Za-z0-9_]{1,32}$")]
    private static partial Regex RevisionId();
}
