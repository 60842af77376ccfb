-- Drafts (src/drafts): what a member was writing, kept on the server per topic, group, room
-- or conversation, so a reload, a refused form or the consent page loses nothing. The
-- member's own: in their export, erased with the account (the foreign key).
CREATE TABLE drafts (
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    draft_key   TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, draft_key)
);
