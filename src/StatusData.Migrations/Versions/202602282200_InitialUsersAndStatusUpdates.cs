namespace StatusData.Migrations.Versions;

/// <summary>
/// Mirrors the Python side's Alembic revision <c>a1b2c3d4e5f6</c>
/// (<c>2026_02_28_2200-a1b2c3d4e5f6_initial_users_and_status_updates.py</c>) exactly: the same
/// tables, types, nullability and constraint names, no server-side defaults (the Python models
/// set defaults in the application) and no ON DELETE action (the cascade lives in the ORM).
/// </summary>
[Migration(202602282200, "initial users and status_updates")]
public sealed class InitialUsersAndStatusUpdates : Migration
{
    /// <inheritdoc />
    public override void Up()
    {
        Sql("""
            CREATE TABLE users (
                id uuid NOT NULL,
                username character varying(50) NOT NULL,
                display_name character varying(100) NOT NULL,
                email character varying(255) NOT NULL,
                password_hash character varying(255) NOT NULL,
                avatar_url character varying(500),
                xp integer NOT NULL,
                current_streak integer NOT NULL,
                longest_streak integer NOT NULL,
                last_post_date date,
                created_at timestamp with time zone NOT NULL,
                CONSTRAINT users_pkey PRIMARY KEY (id),
                CONSTRAINT users_username_key UNIQUE (username),
                CONSTRAINT users_email_key UNIQUE (email)
            )
            """);
        Sql("""
            CREATE TABLE status_updates (
                id uuid NOT NULL,
                user_id uuid NOT NULL,
                message text NOT NULL,
                category character varying(20) NOT NULL,
                created_at timestamp with time zone NOT NULL,
                CONSTRAINT status_updates_pkey PRIMARY KEY (id),
                CONSTRAINT status_updates_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
            )
            """);
        Sql("CREATE INDEX ix_status_updates_user_id ON status_updates (user_id)");
    }

    /// <inheritdoc />
    public override void Down()
    {
        Sql("DROP INDEX ix_status_updates_user_id");
        Sql("DROP TABLE status_updates");
        Sql("DROP TABLE users");
    }
}
