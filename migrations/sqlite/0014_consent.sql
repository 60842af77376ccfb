-- Consent to hold health data (PRV-6): one row per time a member said yes, with the exact
-- wording they saw (its version, language and SHA-256; the texts themselves live in the binary,
-- every version kept). Rows are never deleted while the account lives and never rewritten,
-- except that withdrawal stamps `withdrawn_at` once. The member's erasure takes them with it.
CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('health_data')),
    version       TEXT    NOT NULL,
    locale        TEXT    NOT NULL,
    text_sha256   TEXT    NOT NULL,
    source        TEXT    NOT NULL CHECK (source IN ('registration', 'api', 'web', 'seed')),
    granted_at    BIGINT  NOT NULL,
    withdrawn_at  BIGINT
);
CREATE INDEX consents_by_user ON consents (user_id, kind, id);
