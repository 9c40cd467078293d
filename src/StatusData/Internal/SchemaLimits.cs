namespace StatusData.Internal;

/// <summary>
/// The lengths of the <c>varchar</c> columns, in code points, as the migrations leave them (202602282200, the
/// mirror of Alembic revision a1b2c3d4e5f6): what <see cref="Guard"/> enforces before the database would.
/// The migrations keep their own literals on purpose: a migration records the schema of its day (its checksum
/// is pinned), so widening a column is a new migration and a change here, never an edit of the old one.
/// </summary>
internal static class SchemaLimits
{
    public const int Username = 50;
    public const int DisplayName = 100;
    public const int Email = 255;
    public const int PasswordHash = 255;
    public const int AvatarUrl = 500;
    public const int Category = 20;
}
