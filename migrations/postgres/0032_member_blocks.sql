-- Blocking and ignoring (src/blocks/). `block`: the blocked member cannot message, mention,
-- notify or send requests to the blocker, and the blocker sees their words collapsed; the blocked
-- member is never told. `ignore`: only the collapsing. One row per pair; blocking replaces an
-- ignore and the other way round.
CREATE TABLE member_blocks (
    blocker_id  BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id  BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('block', 'ignore')),
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX member_blocks_by_blocked ON member_blocks (blocked_id);
