-- 21 (issue 18): an upload is read once, and what it read as is kept beside its bytes
-- (``reading``: its rows, or why it cannot be read), so that a preview opened again costs no
-- second reading. Uploads are kept ``[web] uploads_days``: then their bytes and reading are
-- deleted and the row stays (the register keeps the fingerprint and the counts), so a page can
-- say "deleted after 30 days". SQLite cannot drop a NOT NULL in place: the tables are rebuilt
-- (``migrate`` runs with foreign keys off and checks them before committing).

CREATE TABLE observation_files_21 (
    sha256 TEXT PRIMARY KEY,                -- of the bytes: a list is known by its content
    name TEXT NOT NULL,                     -- the file's name as given (first seen)
    data BLOB,                              -- NULL once deleted
    reading TEXT,                           -- what it read as (kiosk.csvfile.reading_of)
    stored_at TEXT NOT NULL,                -- when last uploaded: kept uploads_days from it
    stored_by TEXT NOT NULL,
    deleted_at TEXT
);
INSERT INTO observation_files_21 (sha256, name, data, stored_at, stored_by)
    SELECT sha256, name, data, stored_at, stored_by FROM observation_files;
DROP TABLE observation_files;
ALTER TABLE observation_files_21 RENAME TO observation_files;
CREATE INDEX observation_files_kept ON observation_files(stored_at) WHERE data IS NOT NULL;

CREATE TABLE household_files_21 (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    data BLOB,
    reading TEXT,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL,
    deleted_at TEXT
);
INSERT INTO household_files_21 (sha256, name, data, stored_at, stored_by)
    SELECT sha256, name, data, stored_at, stored_by FROM household_files;
DROP TABLE household_files;
ALTER TABLE household_files_21 RENAME TO household_files;
CREATE INDEX household_files_kept ON household_files(stored_at) WHERE data IS NOT NULL;
