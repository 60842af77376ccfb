-- A topic's pages can be kept in memory while nothing on them changed: `version` counts every
-- change to its posts (edits, deletions, reactions, hiding), their corrections and milestones;
-- new posts move `last_seq`. The database keeps it, so every node and every write path agree.
ALTER TABLE topics ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER posts_bump_topic_on_update AFTER UPDATE ON posts BEGIN
    UPDATE topics SET version = version + 1 WHERE id = NEW.topic_id;
END;
CREATE TRIGGER posts_bump_topic_on_delete AFTER DELETE ON posts BEGIN
    UPDATE topics SET version = version + 1 WHERE id = OLD.topic_id;
END;
CREATE TRIGGER corrections_bump_topic_on_insert AFTER INSERT ON corrections BEGIN
    UPDATE topics SET version = version + 1 WHERE id = (SELECT topic_id FROM posts WHERE id = NEW.post_id);
END;
CREATE TRIGGER corrections_bump_topic_on_update AFTER UPDATE ON corrections BEGIN
    UPDATE topics SET version = version + 1 WHERE id = (SELECT topic_id FROM posts WHERE id = NEW.post_id);
END;
CREATE TRIGGER corrections_bump_topic_on_delete AFTER DELETE ON corrections BEGIN
    UPDATE topics SET version = version + 1 WHERE id = (SELECT topic_id FROM posts WHERE id = OLD.post_id);
END;
CREATE TRIGGER milestones_bump_topic_on_insert AFTER INSERT ON milestones BEGIN
    UPDATE topics SET version = version + 1 WHERE id = NEW.topic_id;
END;
CREATE TRIGGER milestones_bump_topic_on_update AFTER UPDATE ON milestones BEGIN
    UPDATE topics SET version = version + 1 WHERE id = NEW.topic_id;
END;
CREATE TRIGGER milestones_bump_topic_on_delete AFTER DELETE ON milestones BEGIN
    UPDATE topics SET version = version + 1 WHERE id = OLD.topic_id;
END;

-- Active members per community, kept by the database instead of counted on every page: counting
-- a group of 100,000 members took milliseconds per view.
ALTER TABLE communities ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE communities SET member_count =
    (SELECT COUNT(*) FROM memberships m WHERE m.community_id = communities.id AND m.status = 'active');

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships WHEN NEW.status = 'active' BEGIN
    UPDATE communities SET member_count = member_count + 1 WHERE id = NEW.community_id;
END;
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships WHEN OLD.status = 'active' BEGIN
    UPDATE communities SET member_count = member_count - 1 WHERE id = OLD.community_id;
END;
CREATE TRIGGER memberships_count_update AFTER UPDATE OF status, community_id ON memberships BEGIN
    UPDATE communities SET member_count = member_count - 1
        WHERE OLD.status = 'active' AND id = OLD.community_id;
    UPDATE communities SET member_count = member_count + 1
        WHERE NEW.status = 'active' AND id = NEW.community_id;
END;
