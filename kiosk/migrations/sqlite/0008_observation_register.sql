-- 8: the observation register (issue 9): each day's list as received (its bytes, so what
-- was applied can be read again), and every list applied, by whom, for which day. The
-- per-household history reads its events through a small partial index.

CREATE TABLE observation_files (
    sha256 TEXT PRIMARY KEY,                -- of the bytes: a list is known by its content
    name TEXT NOT NULL,                     -- the file's name as given (first seen)
    data BLOB NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL
);
CREATE TABLE observation_lists (
    id INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    list_date TEXT NOT NULL,                -- the day the list is for: '2026-11-29'
    source TEXT NOT NULL DEFAULT '',        -- who sent it: 'committee', 'property' ...
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES observation_files(sha256),
    format TEXT NOT NULL CHECK (format IN ('status', 'full')),
    added INTEGER NOT NULL,
    released INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    problems INTEGER NOT NULL               -- > 0: applied with its problems confirmed
);
CREATE INDEX observation_lists_file ON observation_lists(sha256, list_date, source);
CREATE TRIGGER observation_lists_no_update BEFORE UPDATE ON observation_lists
    BEGIN SELECT RAISE(ABORT, 'the observation register is append-only'); END;
CREATE TRIGGER observation_lists_no_delete BEFORE DELETE ON observation_lists
    BEGIN SELECT RAISE(ABORT, 'the observation register is append-only'); END;
CREATE INDEX events_observation ON events(household_id, id)
    WHERE kind IN ('observation_added', 'observation_released');
