-- Milestone types: what a community celebrates ("Weight lost" in lb, "A1c" in %, "Time since
-- surgery"). Organisers define them; a type in use is retired rather than deleted, so old posts
-- keep their label. `anniversary` types remind their members on the day, every year.
CREATE TABLE milestone_types (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    type_key      TEXT    NOT NULL,
    label         TEXT    NOT NULL,
    unit          TEXT,
    category      TEXT    NOT NULL DEFAULT 'other' CHECK (category IN ('clinical', 'non_scale', 'anniversary', 'other')),
    retired_at    BIGINT,
    created_at    BIGINT  NOT NULL,
    UNIQUE (community_id, type_key)
);

-- The default types of every community, for those made before milestones existed.
INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
    SELECT id, 'weight_lost', 'Weight lost', 'lb', 'clinical', created_at FROM communities;
INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
    SELECT id, 'a1c', 'A1c', '%', 'clinical', created_at FROM communities;
INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
    SELECT id, 'time_since_surgery', 'Time since surgery', NULL, 'anniversary', created_at FROM communities;
INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
    SELECT id, 'non_scale_victory', 'Non-scale victory', NULL, 'non_scale', created_at FROM communities;

-- "Only me": a private milestone is a topic nobody but this member may see or find.
ALTER TABLE topics ADD COLUMN private_to BIGINT REFERENCES users(id) ON DELETE CASCADE;

-- One milestone post (an opening post or a reply). `amount` and `baseline` are the member's
-- numbers; others see them only as `shown_as` allows ('value', 'percent' of the baseline, or
-- 'none': the milestone without the number). Never sorted by amount: there are no leaderboards.
CREATE TABLE milestones (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    author_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type_id       BIGINT  NOT NULL REFERENCES milestone_types(id) ON DELETE CASCADE,
    topic_id      BIGINT  NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    post_id       BIGINT  NOT NULL UNIQUE REFERENCES posts(id) ON DELETE CASCADE,
    amount        REAL,
    unit          TEXT,
    baseline      REAL,
    shown_as      TEXT    NOT NULL DEFAULT 'none' CHECK (shown_as IN ('value', 'percent', 'none')),
    is_private    BOOLEAN NOT NULL DEFAULT FALSE,
    achieved_on   TEXT    NOT NULL,   -- YYYY-MM-DD, the member's own calendar day
    achieved_md   TEXT    NOT NULL,   -- MM-DD of achieved_on, to find today's anniversaries
    created_at    BIGINT  NOT NULL
);
CREATE INDEX milestones_feed ON milestones (community_id, created_at, id);
CREATE INDEX milestones_timeline ON milestones (author_id, created_at, id);
CREATE INDEX milestones_anniversary ON milestones (achieved_md);

-- An anniversary reminder sent: the key makes it once per milestone and year on every node.
CREATE TABLE milestone_anniversaries (
    milestone_id  BIGINT  NOT NULL REFERENCES milestones(id) ON DELETE CASCADE,
    year          BIGINT  NOT NULL,
    sent_at       BIGINT  NOT NULL,
    PRIMARY KEY (milestone_id, year)
);

-- Members who follow another member, to hear about their milestones.
CREATE TABLE follows (
    follower_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_by_followee ON follows (followee_id);
