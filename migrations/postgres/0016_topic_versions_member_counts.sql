-- A topic's pages can be kept in memory while nothing on them changed: `version` counts every
-- change to its posts (edits, deletions, reactions, hiding), their corrections and milestones;
-- new posts move `last_seq`. The database keeps it, so every node and every write path agree.
ALTER TABLE topics ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION bump_topic_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_topic BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'corrections' THEN
        IF TG_OP = 'DELETE' THEN
            SELECT topic_id INTO row_topic FROM posts WHERE id = OLD.post_id;
        ELSE
            SELECT topic_id INTO row_topic FROM posts WHERE id = NEW.post_id;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        row_topic := OLD.topic_id;
    ELSE
        row_topic := NEW.topic_id;
    END IF;
    UPDATE topics SET version = version + 1 WHERE id = row_topic;
    RETURN NULL;
END;
$$;

CREATE TRIGGER posts_bump_topic AFTER UPDATE OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION bump_topic_version();
CREATE TRIGGER corrections_bump_topic AFTER INSERT OR UPDATE OR DELETE ON corrections
    FOR EACH ROW EXECUTE FUNCTION bump_topic_version();
CREATE TRIGGER milestones_bump_topic AFTER INSERT OR UPDATE OR DELETE ON milestones
    FOR EACH ROW EXECUTE FUNCTION bump_topic_version();

-- Active members per community, kept by the database instead of counted on every page: counting
-- a group of 100,000 members took milliseconds per view.
ALTER TABLE communities ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE communities SET member_count =
    (SELECT COUNT(*) FROM memberships m WHERE m.community_id = communities.id AND m.status = 'active');

CREATE FUNCTION count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active' THEN
        UPDATE communities SET member_count = member_count - 1 WHERE id = OLD.community_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'active' THEN
        UPDATE communities SET member_count = member_count + 1 WHERE id = NEW.community_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memberships_count AFTER INSERT OR UPDATE OF status, community_id OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION count_members();
