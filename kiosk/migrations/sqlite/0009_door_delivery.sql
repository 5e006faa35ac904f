-- 9: door delivery (issue 9): a household under observation gets its parcels carried to
-- the door by the team serving its building (``kiosk.routing``); one open task per
-- household gathers its parcels; fresh food goes first. The day's counts read events by
-- time.

ALTER TABLE parcels ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1));
ALTER TABLE expected ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1));
CREATE TABLE door_tasks (
    id INTEGER PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households(id),
    team TEXT NOT NULL,                     -- the [[teams]] id holding it now
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'delivered', 'cancelled')),
    created_at TEXT NOT NULL,
    assigned_at TEXT NOT NULL,              -- since when ``team`` holds it
    fresh_since TEXT,                       -- when fresh food joined it; NULL: not fresh
    escalations INTEGER NOT NULL DEFAULT 0, -- 1: its team told again; 2: the others too
    closed_at TEXT,
    closed_by TEXT                          -- who delivered or cancelled it
);
CREATE UNIQUE INDEX door_tasks_one_open ON door_tasks(household_id) WHERE status = 'open';
CREATE INDEX door_tasks_open ON door_tasks(id) WHERE status = 'open';
CREATE TABLE door_task_parcels (
    task_id INTEGER NOT NULL REFERENCES door_tasks(id),
    parcel_id INTEGER NOT NULL UNIQUE REFERENCES parcels(id),
    PRIMARY KEY (task_id, parcel_id)
);
CREATE INDEX events_at ON events(at);
