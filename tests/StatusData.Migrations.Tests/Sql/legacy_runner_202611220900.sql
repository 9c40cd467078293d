-- What the runner before FluentMigrator (StatusData 0.1.0, hand-written SQL) ran for both migrations:
-- the output of its `statusdata-migrate script up --from 0`, kept to build databases it migrated.

CREATE TABLE IF NOT EXISTS version_info (
    version bigint NOT NULL,
    applied_on timestamp with time zone NOT NULL,
    description character varying(1024) NOT NULL,
    checksum character(64) NOT NULL,
    CONSTRAINT version_info_pkey PRIMARY KEY (version)
);

-- 202602282200: initial users and status_updates
BEGIN;
SET LOCAL lock_timeout = '60000ms';
SELECT pg_advisory_xact_lock(6004496033656292417);
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
);
CREATE TABLE status_updates (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    message text NOT NULL,
    category character varying(20) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT status_updates_pkey PRIMARY KEY (id),
    CONSTRAINT status_updates_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX ix_status_updates_user_id ON status_updates (user_id);
INSERT INTO version_info (version, applied_on, description, checksum) VALUES (202602282200, now(), 'initial users and status_updates', '270b81d5040be54a0ce022ff7bf94e9a5337e5717044417c5b336b762114ea82');
COMMIT;

-- 202611220900: keyset pagination indexes
BEGIN;
SET LOCAL lock_timeout = '60000ms';
SELECT pg_advisory_xact_lock(6004496033656292417);
CREATE INDEX ix_status_updates_created_at_id ON status_updates (created_at, id);
CREATE INDEX ix_status_updates_user_id_created_at_id ON status_updates (user_id, created_at, id);
CREATE INDEX ix_status_updates_category_created_at_id ON status_updates (category, created_at, id);
CREATE INDEX ix_users_created_at_id ON users (created_at, id);
INSERT INTO version_info (version, applied_on, description, checksum) VALUES (202611220900, now(), 'keyset pagination indexes', '79aa5fa59d43c538772b483401e545bc8d1ffa5a5505f4975a525bba45ce97fc');
COMMIT;
