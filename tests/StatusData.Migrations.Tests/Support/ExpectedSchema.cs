namespace StatusData.Migrations.Tests.Support;

/// <summary>
/// The schema of Alembic revision a1b2c3d4e5f6 (= migration 202602282200) and of 202611220900,
/// written out by hand from the Python models, not derived from the migrations' SQL.
/// </summary>
internal static class ExpectedSchema
{
    public static readonly IReadOnlyList<ColumnFact> UsersColumns =
    [
        new("id", "uuid", NotNull: true),
        new("username", "character varying(50)", NotNull: true),
        new("display_name", "character varying(100)", NotNull: true),
        new("email", "character varying(255)", NotNull: true),
        new("password_hash", "character varying(255)", NotNull: true),
        new("avatar_url", "character varying(500)", NotNull: false),
        new("xp", "integer", NotNull: true),
        new("current_streak", "integer", NotNull: true),
        new("longest_streak", "integer", NotNull: true),
        new("last_post_date", "date", NotNull: false),
        new("created_at", "timestamp with time zone", NotNull: true),
    ];

    public static readonly IReadOnlyList<ColumnFact> StatusUpdatesColumns =
    [
        new("id", "uuid", NotNull: true),
        new("user_id", "uuid", NotNull: true),
        new("message", "text", NotNull: true),
        new("category", "character varying(20)", NotNull: true),
        new("created_at", "timestamp with time zone", NotNull: true),
    ];

    // Ordered by name.
    public static readonly IReadOnlyList<ConstraintFact> UsersConstraints =
    [
        new("users_email_key", "u", "email"),
        new("users_pkey", "p", "id"),
        new("users_username_key", "u", "username"),
    ];

    public static readonly IReadOnlyList<ConstraintFact> StatusUpdatesConstraints =
    [
        new("status_updates_pkey", "p", "id"),
        new("status_updates_user_id_fkey", "f", "user_id", References: "public.users(id)", OnDelete: "a", OnUpdate: "a"),
    ];

    public static readonly IReadOnlyList<IndexFact> UsersIndexesAtInitial =
    [
        new("users_email_key", "email", Unique: true),
        new("users_pkey", "id", Unique: true, Primary: true),
        new("users_username_key", "username", Unique: true),
    ];

    public static readonly IReadOnlyList<IndexFact> StatusUpdatesIndexesAtInitial =
    [
        new("ix_status_updates_user_id", "user_id"),
        new("status_updates_pkey", "id", Unique: true, Primary: true),
    ];

    public static readonly IReadOnlyList<IndexFact> UsersIndexesAtLatest =
    [
        new("ix_users_created_at_id", "created_at,id"),
        new("users_email_key", "email", Unique: true),
        new("users_pkey", "id", Unique: true, Primary: true),
        new("users_username_key", "username", Unique: true),
    ];

    public static readonly IReadOnlyList<IndexFact> StatusUpdatesIndexesAtLatest =
    [
        new("ix_status_updates_category_created_at_id", "category,created_at,id"),
        new("ix_status_updates_created_at_id", "created_at,id"),
        new("ix_status_updates_user_id", "user_id"),
        new("ix_status_updates_user_id_created_at_id", "user_id,created_at,id"),
        new("status_updates_pkey", "id", Unique: true, Primary: true),
    ];

    public static readonly IReadOnlyList<string> ManagedRelations = ["public.alembic_version", "public.status_updates", "public.users", "public.version_info"];

    /// <summary>What is left after down --to 0: both version tables, alembic_version empty (as after Alembic's own downgrade base).</summary>
    public static readonly IReadOnlyList<string> RelationsAtZero = ["public.alembic_version", "public.version_info"];
}
