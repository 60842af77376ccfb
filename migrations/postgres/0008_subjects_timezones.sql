-- Notifications about something other than a post (a goal check-in, a live session, a circle):
-- what they are about, by type and id, so the list can say where to go without any words.
ALTER TABLE notifications ADD COLUMN subject_type TEXT;
ALTER TABLE notifications ADD COLUMN subject_id BIGINT;

-- The member's time zone (IANA name): reminders and anniversaries arrive on their own day.
ALTER TABLE users ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
