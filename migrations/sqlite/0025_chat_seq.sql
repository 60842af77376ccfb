-- A per-room sequence in commit order: the writer takes the room's row (and its counter) in
-- the message's transaction, so a message with a lower `seq` always committed before one with a
-- higher. Ids come from one table-wide sequence and can commit out of order across nodes;
-- `since`, the backlog and the live stream go by `seq`, so no node skips a message.
ALTER TABLE rooms ADD COLUMN message_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_messages ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE chat_messages SET seq = numbered.n
  FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS n FROM chat_messages) AS numbered
  WHERE chat_messages.id = numbered.id;
UPDATE rooms SET message_seq = COALESCE((SELECT MAX(seq) FROM chat_messages WHERE room_id = rooms.id), 0);
CREATE INDEX chat_messages_by_room_seq ON chat_messages (room_id, seq);
