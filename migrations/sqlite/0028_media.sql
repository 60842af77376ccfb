-- Photos and voice notes (src/media/). The bytes live in the media store (a folder or an
-- S3-compatible bucket) under `storage_key`; a row is what the server acknowledged.
--
-- `post_id` / `message_id` say what it is attached to (neither: unattached, its uploader's
-- alone). They carry no foreign key on purpose: a row outlives what it was attached to until its
-- bytes are gone. `erased_at` marks media whose bytes are to be removed (a deleted post, an
-- erased account); the sweep removes the bytes, then the row. The uploader's id is set to NULL
-- when the account goes, after its media were marked.
CREATE TABLE media (
    id                  INTEGER PRIMARY KEY,
    uploader_id         BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('image', 'audio')),
    content_type        TEXT    NOT NULL,
    storage_key         TEXT    NOT NULL,
    bytes               BIGINT  NOT NULL,
    etag                TEXT    NOT NULL,
    thumb_content_type  TEXT,
    thumb_bytes         BIGINT,
    thumb_etag          TEXT,
    thumb_width         BIGINT,
    thumb_height        BIGINT,
    width               BIGINT,
    height              BIGINT,
    duration_ms         BIGINT,
    post_id             BIGINT,
    message_id          BIGINT,
    alt                 TEXT,
    position            BIGINT  NOT NULL DEFAULT 0,
    created_at          BIGINT  NOT NULL,
    erased_at           BIGINT
);
CREATE INDEX media_by_uploader ON media (uploader_id, created_at);
CREATE INDEX media_by_post ON media (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX media_by_message ON media (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX media_erased ON media (erased_at) WHERE erased_at IS NOT NULL;

-- What a reported post or message carried, as first reported: `[{id, kind, url, alt}]`.
ALTER TABLE mod_cases ADD COLUMN snapshot_media TEXT NOT NULL DEFAULT '[]';
