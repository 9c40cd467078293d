-- What the Python side's `alembic upgrade a1b2c3d4e5f6 --sql` emits for PostgreSQL (SQLAlchemy 2):
-- revision a1b2c3d4e5f6, 2026_02_28_2200-a1b2c3d4e5f6_initial_users_and_status_updates.py.
-- The primary key, unique and foreign key constraints are unnamed, as SQLAlchemy emits them, so
-- PostgreSQL gives them its default names (users_pkey, users_username_key, users_email_key,
-- status_updates_pkey, status_updates_user_id_fkey). Only trailing blanks after commas were removed.
BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> a1b2c3d4e5f6

CREATE TABLE users (
    id UUID NOT NULL,
    username VARCHAR(50) NOT NULL,
    display_name VARCHAR(100) NOT NULL,
    email VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    avatar_url VARCHAR(500),
    xp INTEGER NOT NULL,
    current_streak INTEGER NOT NULL,
    longest_streak INTEGER NOT NULL,
    last_post_date DATE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (username),
    UNIQUE (email)
);

CREATE TABLE status_updates (
    id UUID NOT NULL,
    user_id UUID NOT NULL,
    message TEXT NOT NULL,
    category VARCHAR(20) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(user_id) REFERENCES users (id)
);

CREATE INDEX ix_status_updates_user_id ON status_updates (user_id);

INSERT INTO alembic_version (version_num) VALUES ('a1b2c3d4e5f6');

COMMIT;
