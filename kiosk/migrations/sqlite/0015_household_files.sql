-- 15: household lists uploaded on the staff site (issue 10), kept by their SHA-256 between
-- the preview and the confirmation (both read these bytes), and after, as what was applied.
-- Apart from the observation lists: these carry every resident's phone and e-mail. A
-- household's page reads its edits through a small partial index.

CREATE TABLE household_files (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,                     -- the file's name as given (first seen)
    data BLOB NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL
);
CREATE INDEX events_household_edited ON events(household_id, id)
    WHERE kind = 'household_edited';
