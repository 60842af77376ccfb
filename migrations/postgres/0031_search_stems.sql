-- Search indexes stems too (src/search/analysis.rs): every post is indexed again by the server,
-- in the background (search::reindex_pending).

-- While a row is here, the server re-indexes posts after `next_post_id`, then deletes it.
CREATE TABLE search_reindex (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    next_post_id  BIGINT  NOT NULL
);
INSERT INTO search_reindex (id, next_post_id) VALUES (1, 0);
