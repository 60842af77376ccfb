-- no-transaction
-- Conversations: direct messages between 2 to 8 members (API.md v1.1 "Members to members").
--
-- A conversation has a room, so its messages travel over the same socket, writer, history and
-- bus as a community's (and get every chat feature for free). Such a room belongs to no
-- community: rooms.community_id becomes NULL-able, and a room with no community is a
-- conversation's. Every community-scoped query (room lists, directory counts, events, search)
-- filters on community_id and so never meets one; code that loads a room by id asks
-- `chat::room_gate`, which sends conversation rooms to the conversation's own access rule
-- (only its members; site staff get no reading right here, only reported messages).
--
-- SQLite cannot drop NOT NULL in place: the table is rebuilt with the foreign keys off (hence no
-- transaction around the file; the rebuild has its own), or dropping the old table would cascade
-- to every message and event. Nothing refers to rooms by trigger or view.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE rooms_new (
    id                        INTEGER PRIMARY KEY,
    community_id              BIGINT  REFERENCES communities(id) ON DELETE CASCADE,  -- NULL: a conversation's room
    name                      TEXT    NOT NULL,
    topic                     TEXT    NOT NULL DEFAULT '',
    is_default                BOOLEAN NOT NULL DEFAULT FALSE,
    created_by                BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at                BIGINT  NOT NULL,
    last_message_at           BIGINT  NOT NULL DEFAULT 0,    -- also the row every batch of messages locks
    slow_mode_seconds         BIGINT  NOT NULL DEFAULT 0,
    quiet_hours               TEXT,
    new_joiner_delay_minutes  BIGINT  NOT NULL DEFAULT 0,
    circle_id                 BIGINT  REFERENCES circles(id) ON DELETE CASCADE,
    message_seq               BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO rooms_new (id, community_id, name, topic, is_default, created_by, created_at, last_message_at,
                       slow_mode_seconds, quiet_hours, new_joiner_delay_minutes, circle_id, message_seq)
    SELECT id, community_id, name, topic, is_default, created_by, created_at, last_message_at,
           slow_mode_seconds, quiet_hours, new_joiner_delay_minutes, circle_id, message_seq FROM rooms;
DROP TABLE rooms;
ALTER TABLE rooms_new RENAME TO rooms;
CREATE INDEX rooms_by_community ON rooms (community_id, id);

-- state: `requested` until one of the others accepts the starter's first message, then `open`;
-- `ended` when a moderator ended it (read-only from then on).
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    room_id     BIGINT  NOT NULL UNIQUE REFERENCES rooms(id) ON DELETE CASCADE,
    started_by  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    state       TEXT    NOT NULL DEFAULT 'requested' CHECK (state IN ('requested', 'open', 'ended')),
    created_at  BIGINT  NOT NULL,
    ended_at    BIGINT,
    ended_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX conversations_by_starter ON conversations (started_by, created_at);

-- One row per person asked in. state: `starter`, `invited` (not answered yet), `accepted`,
-- `declined` or `left`; only starter, invited and accepted rows may read, and only starter and
-- accepted ones may write (the starter once the conversation is open). last_read_seq: unread
-- counts are the room's messages past it.
CREATE TABLE conversation_members (
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state            TEXT    NOT NULL CHECK (state IN ('starter', 'invited', 'accepted', 'declined', 'left')),
    last_read_seq    BIGINT  NOT NULL DEFAULT 0,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);

-- Who may start a conversation with the member: nobody, people in their peer circles, or members
-- of their groups (at trust level 1 or more).
ALTER TABLE users ADD COLUMN who_can_message TEXT NOT NULL DEFAULT 'groups' CHECK (who_can_message IN ('nobody', 'circles', 'groups'));
COMMIT;
PRAGMA foreign_keys = ON;
