-- Notifications outside the site (issue 21): a verified e-mail address, each member's delivery
-- choices, single-use verification tokens, unsubscribe tokens, and notification mails in the
-- outbox.

-- Mail goes only to a verified address; changing the address clears this.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- One row per member who changed a delivery setting (no row: e-mail off, no push, every kind on).
CREATE TABLE delivery_settings (
    user_id        BIGINT  PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email          TEXT    NOT NULL DEFAULT 'off' CHECK (email IN ('off', 'immediate', 'daily', 'weekly')),
    push           BOOLEAN NOT NULL DEFAULT FALSE,
    kinds_off      TEXT    NOT NULL DEFAULT '',     -- comma-separated delivery kinds turned off
    -- Notifications with ids up to here are mailed, in a queued mail, or were skipped: the
    -- watermark that the mail job moves forward with a compare-and-set.
    mailed_up_to   BIGINT  NOT NULL DEFAULT 0,
    digest_due_at  BIGINT,                          -- next daily or weekly digest (UTC ms)
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX delivery_settings_by_email ON delivery_settings (email, digest_due_at);

-- Verification tokens, kept as SHA-256 hashes, for the address they were minted for.
CREATE TABLE email_verify_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email_key   TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_verify_tokens_by_user ON email_verify_tokens (user_id, used_at);

-- One-click unsubscribe tokens (RFC 8058), one per mail, as SHA-256 hashes; kind NULL turns all
-- e-mail off.
CREATE TABLE mail_unsubscribe_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX mail_unsubscribe_tokens_by_user ON mail_unsubscribe_tokens (user_id);

-- The outbox takes the new kinds and what a notification mail covers (its payload). SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt (nothing refers to it).
CREATE TABLE mail_outbox_new (
    id               INTEGER PRIMARY KEY,
    user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL CHECK (kind IN ('password_reset', 'email_verify', 'notifications', 'digest')),
    created_at       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    claimed_until    BIGINT,
    sent_at          BIGINT,
    failed_at        BIGINT,
    last_error       TEXT,
    payload          TEXT
);
INSERT INTO mail_outbox_new (id, user_id, kind, created_at, attempts, next_attempt_at, claimed_until, sent_at, failed_at, last_error)
    SELECT id, user_id, kind, created_at, attempts, next_attempt_at, claimed_until, sent_at, failed_at, last_error FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, failed_at, next_attempt_at);
CREATE INDEX mail_outbox_by_user ON mail_outbox (user_id, kind);
