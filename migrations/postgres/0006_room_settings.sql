-- Room settings moderators change at run time (each change is logged): slow mode, read-only
-- quiet hours (UTC, "22:00-07:00") and a posting delay for members who just joined.
ALTER TABLE rooms ADD COLUMN slow_mode_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN quiet_hours TEXT;
ALTER TABLE rooms ADD COLUMN new_joiner_delay_minutes BIGINT NOT NULL DEFAULT 0;
