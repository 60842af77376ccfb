-- Accounts, site-wide roles and sessions. Times are milliseconds since the Unix epoch.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL UNIQUE,   -- lower-cased: usernames are unique ignoring case
    display_name        TEXT    NOT NULL,
    bio                 TEXT    NOT NULL DEFAULT '',
    email               TEXT,
    email_key           TEXT    UNIQUE,            -- lower-cased
    password_hash       TEXT    NOT NULL,          -- argon2id PHC string
    locale              TEXT    NOT NULL DEFAULT 'en',
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

CREATE TABLE user_roles (
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('moderator', 'organiser', 'professional', 'admin')),
    granted_by  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    granted_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- One row per login: the bearer token and the web cookie are the same secret, stored hashed.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    TEXT    NOT NULL UNIQUE,   -- hex SHA-256 of the token
    csrf_token    TEXT    NOT NULL,
    user_agent    TEXT,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
