-- Organiser tools on a calendar: themed threads on a schedule, live chat sessions with RSVPs and
-- reminders, and announcements members can dismiss.

-- A themed thread organisers schedule. The wall-clock time and day of `first_at` in `timezone`
-- define the recurrence; `next_seq` is the number of the next occurrence to create (0 is
-- first_at) and `next_at` its instant, NULL once the schedule is finished or cancelled.
CREATE TABLE schedules (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    title         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    first_at      BIGINT  NOT NULL,
    recurrence    TEXT    NOT NULL CHECK (recurrence IN ('none', 'daily', 'weekly', 'monthly')),
    timezone      TEXT    NOT NULL,
    ends_at       BIGINT,
    max_count     BIGINT,
    next_seq      BIGINT  NOT NULL DEFAULT 0,
    next_at       BIGINT,
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    cancelled_at  BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX schedules_by_community ON schedules (community_id, id);
CREATE INDEX schedules_due ON schedules (next_at);

-- Each occurrence a schedule has created: the unique key is what makes it happen exactly once,
-- whichever node gets there first.
CREATE TABLE schedule_occurrences (
    schedule_id  BIGINT  NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    occurs_at    BIGINT  NOT NULL,
    seq          BIGINT  NOT NULL,
    topic_id     BIGINT  REFERENCES topics(id) ON DELETE SET NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (schedule_id, occurs_at)
);

-- A live chat session in a room. Sessions offered at several times of day share `series_id`
-- (the id of the first). The announced markers claim the "session started/ended" frames once.
CREATE TABLE events (
    id                  INTEGER PRIMARY KEY,
    community_id        BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    room_id             BIGINT  NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    series_id           BIGINT,
    title               TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    starts_at           BIGINT  NOT NULL,
    ends_at             BIGINT  NOT NULL,
    created_by          BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    cancelled_at        BIGINT,
    start_announced_at  BIGINT,
    end_announced_at    BIGINT,
    summary_topic_id    BIGINT  REFERENCES topics(id) ON DELETE SET NULL,
    created_at          BIGINT  NOT NULL
);
CREATE INDEX events_by_community ON events (community_id, starts_at);
CREATE INDEX events_by_room ON events (room_id, starts_at);
CREATE INDEX events_by_start ON events (starts_at);
-- What the job still has to announce in the rooms.
CREATE INDEX events_to_start ON events (starts_at) WHERE start_announced_at IS NULL;
CREATE INDEX events_to_end ON events (ends_at) WHERE end_announced_at IS NULL;

-- `going_since`: when the member last said yes (reminders whose moment came before are skipped).
CREATE TABLE event_rsvps (
    event_id     BIGINT  NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    going        BOOLEAN NOT NULL,
    going_since  BIGINT,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_rsvps_by_user ON event_rsvps (user_id, going);

-- Reminders sent, one per (session, member, minutes before the start): the claim.
CREATE TABLE event_reminders (
    event_id        BIGINT  NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    user_id         BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    offset_minutes  BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL,
    PRIMARY KEY (event_id, user_id, offset_minutes)
);

-- Announcements: site-wide (community_id NULL, by admins) or per community (by its organisers).
CREATE TABLE announcements (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  REFERENCES communities(id) ON DELETE CASCADE,
    author_id     BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    title         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    body_html     TEXT    NOT NULL,
    pinned        BOOLEAN NOT NULL DEFAULT FALSE,
    starts_at     BIGINT  NOT NULL,
    ends_at       BIGINT,
    created_at    BIGINT  NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX announcements_by_start ON announcements (starts_at);
CREATE INDEX announcements_by_community ON announcements (community_id, id);

CREATE TABLE announcement_dismissals (
    announcement_id  BIGINT  NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
    user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    dismissed_at     BIGINT  NOT NULL,
    PRIMARY KEY (announcement_id, user_id)
);
