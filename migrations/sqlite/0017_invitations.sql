-- Invitation links to a group, made by its organisers: the only way into a private group
-- besides a referral link (joining by slug answers as if the group did not exist). A link
-- works until it is revoked, runs out of uses or expires. Who used it is not kept.
CREATE TABLE invitations (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    code          TEXT    NOT NULL UNIQUE,
    max_uses      BIGINT,
    uses          BIGINT  NOT NULL DEFAULT 0,
    expires_at    BIGINT,
    created_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX invitations_by_community ON invitations (community_id, id);
