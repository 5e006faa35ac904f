-- 17 (issue 11): what was said about parcels still waiting, one row per parcel and round
-- ('1d', '3d' reminders, 'return' warning), written with the notice it queued: a restart or
-- a crash never says a round twice.

CREATE TABLE reminders (
    parcel_id INTEGER NOT NULL REFERENCES parcels(id),
    round TEXT NOT NULL,
    household_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (parcel_id, round)
);
