-- Chat rooms per community, their messages, and sanctions (mutes, bans, suspensions) that the
-- chat and the forum both obey.

CREATE TABLE rooms (
    id               INTEGER PRIMARY KEY,
    community_id     BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    topic            TEXT    NOT NULL DEFAULT '',
    is_default       BOOLEAN NOT NULL DEFAULT FALSE,
    created_by       BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at       BIGINT  NOT NULL,
    last_message_at  BIGINT  NOT NULL DEFAULT 0    -- also the row every batch of messages locks
);
CREATE INDEX rooms_by_community ON rooms (community_id, id);

-- Every community has a default room.
INSERT INTO rooms (community_id, name, topic, is_default, created_at)
SELECT id, 'General', '', TRUE, created_at FROM communities;

CREATE TABLE chat_messages (
    id          INTEGER PRIMARY KEY,
    room_id     BIGINT  NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    author_id   BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    body        TEXT    NOT NULL,
    body_html   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    edited_at   BIGINT,
    deleted_at  BIGINT,
    deleted_by  BIGINT  REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX chat_messages_by_room ON chat_messages (room_id, id);

-- community_id NULL: site-wide (a suspension). until NULL: until lifted.
CREATE TABLE sanctions (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  REFERENCES communities(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('warning', 'mute', 'suspend', 'ban')),
    reason        TEXT    NOT NULL DEFAULT '',
    until         BIGINT,
    created_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at    BIGINT  NOT NULL,
    lifted_at     BIGINT
);
CREATE INDEX sanctions_by_user ON sanctions (user_id, kind);
