-- 7: the camera's still of each scan (issue 8): one small JPEG per scan, linked to every
-- event the scan recorded (a pickup of three parcels shares one), written in the events'
-- transaction. After [kiosk] stills_days its picture is deleted and the row stays, so a
-- timeline can say "deleted after 14 days" instead of showing a broken image.

CREATE TABLE stills (
    id INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    jpeg BLOB,                              -- NULL once deleted
    deleted_at TEXT
);
CREATE INDEX stills_kept ON stills(taken_at) WHERE jpeg IS NOT NULL;
CREATE TABLE event_stills (
    event_id INTEGER PRIMARY KEY REFERENCES events(id),
    still_id INTEGER NOT NULL REFERENCES stills(id)
);
