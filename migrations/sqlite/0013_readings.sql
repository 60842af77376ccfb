-- Private self-monitoring: a member's own readings (glucose, blood pressure, weight, steps,
-- notes), seen by no one else; and the trends they choose to share with one of their circles
-- (a live chart of one series, never the rows).

CREATE TABLE readings (
    id          INTEGER PRIMARY KEY,
    owner_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('glucose', 'blood_pressure', 'weight', 'steps', 'note')),
    value       REAL,                           -- NULL for notes
    value2      REAL,                           -- diastolic, for blood pressure
    unit        TEXT    NOT NULL DEFAULT '',    -- as the member gave it: mg/dL, mmol/L, mmHg, kg, lb, steps
    context     TEXT    NOT NULL DEFAULT '',    -- "fasting", "after meal"...
    note        TEXT    NOT NULL DEFAULT '',
    taken_at    BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX readings_by_owner ON readings (owner_id, kind, taken_at, id);

CREATE TABLE reading_shares (
    id          INTEGER PRIMARY KEY,
    owner_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    circle_id   BIGINT  NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    days        BIGINT  NOT NULL,
    shape_only  BOOLEAN NOT NULL DEFAULT FALSE, -- no axis values, no numbers in the words
    created_at  BIGINT  NOT NULL
);
CREATE INDEX reading_shares_by_circle ON reading_shares (circle_id, id);
CREATE INDEX reading_shares_by_owner ON reading_shares (owner_id, id);
