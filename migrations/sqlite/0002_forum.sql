-- Communities, memberships, topics, posts, revisions, reactions, reads, notifications, the
-- moderation log and the search index.

ALTER TABLE users ADD COLUMN content_filters TEXT NOT NULL DEFAULT '';   -- comma-separated warning kinds to collapse
ALTER TABLE users ADD COLUMN hide_presence BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE communities (
    id                      INTEGER PRIMARY KEY,
    slug                    TEXT    NOT NULL UNIQUE,
    name                    TEXT    NOT NULL,
    description             TEXT    NOT NULL DEFAULT '',
    visibility              TEXT    NOT NULL DEFAULT 'members' CHECK (visibility IN ('public', 'members', 'private')),
    medical_notice          BOOLEAN NOT NULL DEFAULT TRUE,
    allow_anonymous         BOOLEAN NOT NULL DEFAULT FALSE,
    member_list             TEXT    NOT NULL DEFAULT 'members' CHECK (member_list IN ('members', 'hidden')),
    newcomer_alert_minutes  BIGINT  NOT NULL DEFAULT 720,
    created_by              BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at              BIGINT  NOT NULL
);

-- status: 'active' members, or 'pending' requests to join a private community.
CREATE TABLE memberships (
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'pending')),
    created_at    BIGINT  NOT NULL,
    decided_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE community_roles (
    community_id  BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('moderator', 'organiser', 'welcomer')),
    granted_by    BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    granted_at    BIGINT  NOT NULL,
    PRIMARY KEY (community_id, user_id, role)
);

CREATE TABLE topics (
    id                   INTEGER PRIMARY KEY,
    community_id         BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    author_id            BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    title                TEXT    NOT NULL,
    kind                 TEXT    NOT NULL DEFAULT 'discussion' CHECK (kind IN ('discussion', 'milestone', 'themed')),
    anonymous            BOOLEAN NOT NULL DEFAULT FALSE,
    pinned               BOOLEAN NOT NULL DEFAULT FALSE,
    locked               BOOLEAN NOT NULL DEFAULT FALSE,
    last_seq             BIGINT  NOT NULL DEFAULT 0,     -- seq of the newest post; posts are numbered 1, 2, ...
    reply_count          BIGINT  NOT NULL DEFAULT 0,     -- visible replies (not the opening post)
    first_of_author      BOOLEAN NOT NULL DEFAULT FALSE, -- the author's first topic in this community
    newcomer_alerted_at  BIGINT,
    created_at           BIGINT  NOT NULL,
    last_post_at         BIGINT  NOT NULL,
    deleted_at           BIGINT
);
CREATE INDEX topics_by_activity ON topics (community_id, pinned, last_post_at, id);
CREATE INDEX topics_unanswered ON topics (first_of_author, reply_count, newcomer_alerted_at);

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY,
    topic_id         BIGINT  NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    community_id     BIGINT  NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    seq              BIGINT  NOT NULL,                  -- position in the topic: the paging key
    author_id        BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    reply_to         BIGINT  REFERENCES posts(id) ON DELETE SET NULL,
    body             TEXT    NOT NULL,
    body_html        TEXT    NOT NULL,
    content_warning  TEXT,
    anonymous        BOOLEAN NOT NULL DEFAULT FALSE,
    reactions        TEXT    NOT NULL DEFAULT '{}',     -- kind → count, kept with each reaction
    created_at       BIGINT  NOT NULL,
    edited_at        BIGINT,
    deleted_at       BIGINT,
    deleted_by       BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE (topic_id, seq)
);
CREATE INDEX posts_by_author ON posts (author_id, created_at);

CREATE TABLE post_revisions (
    id          INTEGER PRIMARY KEY,
    post_id     BIGINT  NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    editor_id   BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    body        TEXT    NOT NULL,          -- the text before this edit
    created_at  BIGINT  NOT NULL
);
CREATE INDEX post_revisions_by_post ON post_revisions (post_id, id);

CREATE TABLE post_reactions (
    post_id     BIGINT  NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('heart', 'hug', 'celebrate', 'me_too', 'helpful')),
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (post_id, user_id, kind)
);
CREATE INDEX post_reactions_by_user ON post_reactions (user_id, post_id);

CREATE TABLE topic_reads (
    user_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic_id       BIGINT  NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    last_read_seq  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, topic_id)
);

-- Notifications carry ids, never the text of a post or title: a preview could reveal health
-- details to whoever glances at the member's screen.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    actor_id      BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    community_id  BIGINT  REFERENCES communities(id) ON DELETE CASCADE,
    topic_id      BIGINT  REFERENCES topics(id) ON DELETE CASCADE,
    post_id       BIGINT  REFERENCES posts(id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    read_at       BIGINT
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);

CREATE TABLE moderation_log (
    id            INTEGER PRIMARY KEY,
    community_id  BIGINT  REFERENCES communities(id) ON DELETE CASCADE,
    moderator_id  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    action        TEXT    NOT NULL,
    target_type   TEXT    NOT NULL,
    target_id     BIGINT  NOT NULL,
    reason        TEXT    NOT NULL,
    private_note  TEXT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX moderation_log_by_community ON moderation_log (community_id, id);

-- Folded text (lower case, accents removed, in Rust) of each visible post and its topic title.
CREATE VIRTUAL TABLE post_search USING fts5(text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
