-- The public directory, in-person meetings with their calendar feeds, and referral links.

-- What the directory lists a community under: a condition key and its label, a language tag
-- and a region in free text ("Jalisco, MX" or an ISO country). Empty until an organiser sets them.
ALTER TABLE communities ADD COLUMN condition TEXT NOT NULL DEFAULT '';
ALTER TABLE communities ADD COLUMN condition_label TEXT NOT NULL DEFAULT '';
ALTER TABLE communities ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE communities ADD COLUMN region TEXT NOT NULL DEFAULT '';

-- A physical meeting a community holds. The wall-clock time and day of `first_at` in
-- `timezone` define the recurrence (the same rule as schedules).
CREATE TABLE meetings (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    title         TEXT    NOT NULL,
    place         TEXT    NOT NULL,
    address       TEXT    NOT NULL,
    first_at      BIGINT  NOT NULL,
    duration_minutes BIGINT NOT NULL DEFAULT 90,
    recurrence    TEXT    NOT NULL CHECK (recurrence IN ('none', 'daily', 'weekly', 'monthly')),
    timezone      TEXT    NOT NULL,
    notes         TEXT    NOT NULL DEFAULT '',
    contact       TEXT    NOT NULL DEFAULT '',
    cancelled_at  BIGINT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX meetings_by_community ON meetings (community_id, id);

CREATE TABLE meeting_rsvps (
    meeting_id  BIGINT  NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    going       BOOLEAN NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_rsvps_by_user ON meeting_rsvps (user_id, going);

-- A member's secret calendar feed key (calendar apps cannot send a bearer token); only its
-- SHA-256 is kept. Deleting the row revokes the feed.
CREATE TABLE calendar_keys (
    user_id     BIGINT  PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    key_hash    TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

-- Referral links organisers hand to clinics. Only counters: visits to the welcome page, joins
-- through it, and joined members who went on to post.
CREATE TABLE referrals (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    code          TEXT    NOT NULL UNIQUE,
    label         TEXT    NOT NULL,
    visits        BIGINT  NOT NULL DEFAULT 0,
    joined        BIGINT  NOT NULL DEFAULT 0,
    posted        BIGINT  NOT NULL DEFAULT 0,
    created_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX referrals_by_community ON referrals (community_id, id);

-- Who joined through a link and has not posted yet: kept only until their first post counts
-- (then deleted), never shown to anyone.
CREATE TABLE referral_arrivals (
    referral_id   BIGINT  NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (community_id, user_id)
);
