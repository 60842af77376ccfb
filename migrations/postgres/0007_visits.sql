-- Days each member visited (UTC day numbers), for trust levels.
CREATE TABLE user_visits (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day      BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);
