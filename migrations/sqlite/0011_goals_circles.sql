-- Peer circles (small groups of 6–12 inside a community, led by peer leaders, with a private
-- chat room and a weekly meeting time) and members' goals with their check-ins and reminders.

CREATE TABLE circles (
    id               INTEGER PRIMARY KEY,
    community_id     BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    capacity         BIGINT  NOT NULL DEFAULT 12,
    meeting_weekday  BIGINT,                        -- 1 = Monday .. 7 = Sunday; NULL: no fixed time
    meeting_time     TEXT,                          -- local "HH:MM"
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    created_by       BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL               -- also the row adding a member locks
);
CREATE INDEX circles_by_community ON circles (community_id, id);

-- community_id is repeated so that a member is in at most one circle per community.
CREATE TABLE circle_members (
    circle_id     BIGINT  NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('member', 'leader', 'co_leader')),
    added_at      BIGINT  NOT NULL,
    PRIMARY KEY (circle_id, user_id),
    UNIQUE (community_id, user_id)
);
CREATE INDEX circle_members_by_user ON circle_members (user_id);

-- One row per inactivity spell of a leader: the claim that makes the alert go out once; deleted
-- when the leader is active again.
CREATE TABLE circle_leader_alerts (
    circle_id   BIGINT  NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    leader_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    alerted_at  BIGINT  NOT NULL,
    PRIMARY KEY (circle_id, leader_id)
);

-- A circle's private room.
ALTER TABLE rooms ADD COLUMN circle_id BIGINT REFERENCES circles(id) ON DELETE CASCADE;

CREATE TABLE goals (
    id                INTEGER PRIMARY KEY,
    owner_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title             TEXT    NOT NULL,
    details           TEXT    NOT NULL DEFAULT '',
    cadence           TEXT    NOT NULL CHECK (cadence IN ('daily', 'weekly', 'monthly')),
    times_per_period  BIGINT  NOT NULL DEFAULT 1,
    confidence        BIGINT,                       -- 0–10; NULL when not given
    community_id      BIGINT  REFERENCES communities(id) ON DELETE SET NULL,  -- shared with
    circle_id         BIGINT  REFERENCES circles(id) ON DELETE SET NULL,      -- shared with
    ends_on           TEXT,                         -- local "YYYY-MM-DD"
    status            TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reached', 'stopped')),
    remind_at         TEXT,                         -- local "HH:MM"; NULL: no reminders
    topic_id          BIGINT  REFERENCES topics(id) ON DELETE SET NULL,       -- the milestone post
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX goals_by_owner ON goals (owner_id, id);
CREATE INDEX goals_by_community ON goals (community_id, id);
CREATE INDEX goals_by_circle ON goals (circle_id, id);
CREATE INDEX goals_to_remind ON goals (status, remind_at);

-- One check-in per goal and period (the local date the period starts on); a second replaces it.
CREATE TABLE goal_checkins (
    id            INTEGER PRIMARY KEY,
    goal_id       BIGINT  NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
    period_start  TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('done', 'partly', 'missed')),
    note          TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    UNIQUE (goal_id, period_start)
);

-- The reminder claim: one "check-in due" notification per goal and period, whichever node sends it.
CREATE TABLE goal_reminders (
    goal_id       BIGINT  NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
    period_start  TEXT    NOT NULL,
    sent_at       BIGINT  NOT NULL,
    PRIMARY KEY (goal_id, period_start)
);
