-- Password reset and the mail outbox.
--
-- A reset request is stored as typed, whether or not an account matches, so the request path
-- does the same work for everyone; the job loop turns it into a mail for the matching account
-- (if any) and deletes it within seconds. Reset tokens are kept only as SHA-256 hashes and are
-- minted when their mail is sent, so the clear token never rests in the database.

CREATE TABLE password_reset_requests (
    id            INTEGER PRIMARY KEY,
    login_key     TEXT    NOT NULL,             -- lower-cased username or e-mail, as typed
    requested_at  BIGINT  NOT NULL
);

CREATE TABLE password_reset_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT                          -- used, or superseded by a newer token
);
CREATE INDEX password_reset_tokens_by_user ON password_reset_tokens (user_id, used_at);

-- Mails waiting to go, and for a while those gone. A row is claimed for a lease before it is
-- sent, so two nodes never send it at once; a failed attempt is retried later with back-off.
CREATE TABLE mail_outbox (
    id               INTEGER PRIMARY KEY,
    user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL CHECK (kind IN ('password_reset')),
    created_at       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    claimed_until    BIGINT,
    sent_at          BIGINT,
    failed_at        BIGINT,                    -- gave up after the last retry
    last_error       TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, failed_at, next_attempt_at);
CREATE INDEX mail_outbox_by_user ON mail_outbox (user_id, kind);
