-- A new member's first posts wait for a moderator's approval: their author sees them waiting,
-- everyone else does not see them at all (not even a placeholder) until a moderator approves.
-- `hidden_at` is set too, so search, feeds and milestones leave them out as they do hidden posts.
ALTER TABLE posts ADD COLUMN awaiting_approval BOOLEAN NOT NULL DEFAULT FALSE;
