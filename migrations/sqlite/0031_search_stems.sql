-- Search indexes stems and keeps Devanagari words whole (src/search/analysis.rs). The index is
-- made again: Devanagari vowel signs and virama (Unicode marks) become word characters, then
-- every post is indexed again by the server, in the background (search::reindex_pending).
DROP TABLE post_search;
CREATE VIRTUAL TABLE post_search USING fts5(
    text, content = '', contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);

-- While a row is here, the server re-indexes posts after `next_post_id`, then deletes it.
CREATE TABLE search_reindex (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    next_post_id  BIGINT  NOT NULL
);
INSERT INTO search_reindex (id, next_post_id) VALUES (1, 0);
