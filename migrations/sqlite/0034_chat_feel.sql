-- Chat that feels like chat (src/chat): replies, reactions and read positions.
-- A message may answer another of its room; readers see a short quote of it (or "deleted").
ALTER TABLE chat_messages ADD COLUMN reply_to_id BIGINT REFERENCES chat_messages(id) ON DELETE SET NULL;
-- The message's reaction counts, `{"kind": count}`, kept with it as posts keep theirs, so
-- history and the backlog read them with the message and nothing more.
ALTER TABLE chat_messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '{}';

-- One row per member, message and kind: the same peer-support set as posts.
CREATE TABLE chat_message_reactions (
    message_id  BIGINT  NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('heart', 'hug', 'celebrate', 'me_too', 'helpful')),
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (message_id, user_id, kind)
);
CREATE INDEX chat_message_reactions_by_user ON chat_message_reactions (user_id);

-- How far each member has read in a room ("seen by N" in small rooms). Never shown for
-- members who hide their presence.
CREATE TABLE room_reads (
    room_id     BIGINT  NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id  BIGINT  NOT NULL,
    read_at     BIGINT  NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_reads_by_user ON room_reads (user_id);
