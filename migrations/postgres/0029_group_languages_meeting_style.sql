-- A group's languages and how it meets (#24). `languages`: every language it runs in, as codes
-- separated by single spaces, the main one first ("es en"); `language` (0012) stays the first
-- of them, for readers that know only one. `meeting_style`: online, in person, or both.
ALTER TABLE communities ADD COLUMN languages TEXT NOT NULL DEFAULT '';
UPDATE communities SET languages = language;
ALTER TABLE communities ADD COLUMN meeting_style TEXT NOT NULL DEFAULT 'online'
    CHECK (meeting_style IN ('online', 'in_person', 'both'));
-- Groups that already hold in-person meetings meet both ways.
UPDATE communities SET meeting_style = 'both'
 WHERE EXISTS (SELECT 1 FROM meetings m WHERE m.community_id = communities.id AND m.cancelled_at IS NULL);
