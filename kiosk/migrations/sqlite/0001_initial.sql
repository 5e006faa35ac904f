-- 1: the walking skeleton

CREATE TABLE households (
    id TEXT PRIMARY KEY,                    -- '24-2304'
    building INTEGER NOT NULL,
    room TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    under_observation INTEGER NOT NULL DEFAULT 0 CHECK (under_observation IN (0, 1)),
    updated_at TEXT NOT NULL
);
CREATE TABLE slots (
    code TEXT PRIMARY KEY,                  -- 'A-07', or the overflow place's code
    shelf TEXT NOT NULL,
    position INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    buildings TEXT NOT NULL DEFAULT '',     -- '1-2' as configured; '' = any building
    overflow INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1       -- 0 once removed from the configuration
);
CREATE TABLE pickup_codes (
    id INTEGER PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households(id),
    code TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE UNIQUE INDEX pickup_codes_active ON pickup_codes(code) WHERE used_at IS NULL;
CREATE TABLE parcels (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,             -- the scanned payload that created it
    ref TEXT NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    slot_code TEXT NOT NULL REFERENCES slots(code),
    status TEXT NOT NULL CHECK (status IN ('waiting', 'collected')),
    pickup_code_id INTEGER REFERENCES pickup_codes(id),
    checked_in_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX parcels_waiting ON parcels(slot_code, household_id) WHERE status = 'waiting';
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    parcel_id INTEGER REFERENCES parcels(id),
    household_id TEXT,
    slot_code TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_parcel ON events(parcel_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,                     -- pickup_ready, door_delivery
    channel TEXT NOT NULL,                  -- a [[channels]] id
    recipient TEXT NOT NULL,
    household_id TEXT REFERENCES households(id),
    parcel_id INTEGER REFERENCES parcels(id),
    payload TEXT NOT NULL,                  -- JSON: what the message says
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
CREATE TABLE signals (
    slot_code TEXT PRIMARY KEY REFERENCES slots(code),
    mode TEXT NOT NULL CHECK (mode IN ('on', 'blink')),
    until TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE attempts (                     -- guesses to throttle: pickup codes, logins
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    source TEXT NOT NULL,                   -- 'pickup:camera', 'login:alice' ...
    ok INTEGER NOT NULL
);
CREATE INDEX attempts_recent ON attempts(source, at);
