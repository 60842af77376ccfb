-- Moderation: hidden content, cases in the review queue (reports, appeals, automod holds),
-- moderator notes, duty, "worried about" notices, misinformation corrections and credential
-- checks for professionals.

ALTER TABLE posts ADD COLUMN hidden_at BIGINT;
ALTER TABLE posts ADD COLUMN hidden_reason TEXT;
ALTER TABLE chat_messages ADD COLUMN hidden_at BIGINT;
ALTER TABLE chat_messages ADD COLUMN hidden_reason TEXT;
ALTER TABLE posts ADD COLUMN held_for_review BOOLEAN NOT NULL DEFAULT FALSE;  -- off search and public pages until reviewed
ALTER TABLE notifications ADD COLUMN case_id BIGINT;   -- moderation notifications point at their case

-- One case per target in the queue; reports on the same target join it.
CREATE TABLE mod_cases (
    id             INTEGER PRIMARY KEY,
    community_id   BIGINT  REFERENCES communities(id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('report', 'appeal')),
    target_type    TEXT    NOT NULL CHECK (target_type IN ('post', 'message', 'user', 'log')),
    target_id      BIGINT  NOT NULL,
    author_id      BIGINT  REFERENCES users(id) ON DELETE SET NULL,  -- who wrote it, or who is reported
    state          TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'in_review', 'resolved')),
    crisis         BOOLEAN NOT NULL DEFAULT FALSE,
    risk           TEXT    CHECK (risk IN ('low', 'medium', 'high')),
    weight         BIGINT  NOT NULL DEFAULT 0,                        -- reporters' trust, added up
    assignee_id    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    snapshot       TEXT    NOT NULL DEFAULT '',                       -- the content as first reported
    acted_by       BIGINT  REFERENCES users(id) ON DELETE SET NULL,   -- appeals: who took the action
    appeal_text    TEXT,
    resolution     TEXT,
    resolved_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at     BIGINT  NOT NULL,
    resolved_at    BIGINT
);
CREATE INDEX mod_cases_queue ON mod_cases (community_id, state, crisis, weight);
CREATE UNIQUE INDEX mod_cases_open_target ON mod_cases (kind, target_type, target_id) WHERE state <> 'resolved';

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    case_id      BIGINT  NOT NULL REFERENCES mod_cases(id) ON DELETE CASCADE,
    reporter_id  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    reason       TEXT    NOT NULL CHECK (reason IN ('spam', 'harassment', 'misinformation', 'crisis', 'worried', 'other')),
    note         TEXT    NOT NULL DEFAULT '',
    weight       BIGINT  NOT NULL DEFAULT 1,
    created_at   BIGINT  NOT NULL
);
CREATE UNIQUE INDEX reports_once_per_case ON reports (case_id, reporter_id);

CREATE TABLE case_notes (
    id            INTEGER PRIMARY KEY,
    case_id       BIGINT  NOT NULL REFERENCES mod_cases(id) ON DELETE CASCADE,
    moderator_id  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    body          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE moderator_duty (
    user_id   BIGINT  PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    on_duty   BOOLEAN NOT NULL DEFAULT FALSE,
    hours     TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- "I'm worried about this person": at most one caring message per person per 24 hours.
CREATE TABLE worried_notices (
    id        INTEGER PRIMARY KEY,
    user_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sent_at   BIGINT  NOT NULL
);
CREATE INDEX worried_notices_by_user ON worried_notices (user_id, sent_at);

CREATE TABLE corrections (
    id          INTEGER PRIMARY KEY,
    post_id     BIGINT  NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_id   BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    note        TEXT    NOT NULL,
    source_url  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX corrections_by_post ON corrections (post_id);

CREATE TABLE verifications (
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential   TEXT    NOT NULL,   -- what was checked, e.g. "RN licence 12345, state board lookup"
    verified_by  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at   BIGINT  NOT NULL
);
