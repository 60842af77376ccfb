-- Web Push (RFC 8030, 8291, 8292): the site's VAPID key pair, members' subscribed devices, and
-- the queue of pushes waiting to go.

-- One key pair for the whole deployment, so every node signs with the same key. The first
-- node to start inserts it (INSERT ... ON CONFLICT DO NOTHING); every node then reads it.
CREATE TABLE push_vapid_keys (
    id           INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    private_key  TEXT    NOT NULL,              -- base64url of the 32-byte P-256 scalar
    public_key   TEXT    NOT NULL,              -- base64url of the uncompressed point
    created_at   BIGINT  NOT NULL
);

-- A device of a member's, as its browser's push service knows it. One row per endpoint.
CREATE TABLE push_subscriptions (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint    TEXT    NOT NULL UNIQUE,        -- https, on a public host (src/push/endpoint.rs)
    p256dh      TEXT    NOT NULL,               -- base64url, 65 bytes
    auth        TEXT    NOT NULL,               -- base64url, 16 bytes
    created_at  BIGINT  NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id, created_at);

-- Pushes waiting to go: {kind, url} for one device. A row is claimed for a lease before it is
-- sent, so two nodes never send it at once; it is deleted once delivered or given up.
CREATE TABLE push_outbox (
    id               INTEGER PRIMARY KEY,
    subscription_id  BIGINT  NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,          -- a notification kind (src/notify)
    url              TEXT    NOT NULL,          -- a path of this site
    created_at       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    claimed_until    BIGINT,
    last_error       TEXT
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at);
CREATE INDEX push_outbox_by_subscription ON push_outbox (subscription_id);
