-- 14: the staff's day (issue 10). A parcel may leave the shelf otherwise than to its
-- household: ``returned`` to the courier, or ``withdrawn`` (a mistaken check-in undone).
-- SQLite cannot widen a CHECK in place, so the table is rebuilt (SQLite's own procedure:
-- ``migrate`` runs with foreign keys off and checks them before committing). Search reads
-- a household's, a reference's or a pickup code's parcels through their own indexes (a
-- household's past parcels through a partial index of those alone, so that a pickup still
-- reads the waiting ones, never the household's years of history); a
-- parcel's timeline its notices and its door tasks' events; the exceptions list the gate's
-- refusals of the last days, through a partial index on those alone. A pickup code says
-- why it was withdrawn, so a pass shown later is answered in the right words.

CREATE TABLE parcels_13 (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    ref TEXT NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    slot_code TEXT NOT NULL REFERENCES slots(code),
    status TEXT NOT NULL
        CHECK (status IN ('waiting', 'collected', 'returned', 'withdrawn')),
    pickup_code_id INTEGER REFERENCES pickup_codes(id),
    checked_in_at TEXT NOT NULL,
    closed_at TEXT,
    kind TEXT NOT NULL DEFAULT 'shelf' CHECK (kind IN ('shelf', 'carrier')),
    symbology TEXT,
    room_confirmed INTEGER NOT NULL DEFAULT 1 CHECK (room_confirmed IN (0, 1)),
    fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1))
);
INSERT INTO parcels_13 (id, label, ref, household_id, slot_code, status, pickup_code_id,
                        checked_in_at, closed_at, kind, symbology, room_confirmed, fresh)
    SELECT id, label, ref, household_id, slot_code, status, pickup_code_id, checked_in_at,
           closed_at, kind, symbology, room_confirmed, fresh FROM parcels;
DROP TABLE parcels;
ALTER TABLE parcels_13 RENAME TO parcels;
CREATE INDEX parcels_waiting ON parcels(slot_code, household_id) WHERE status = 'waiting';
CREATE INDEX parcels_waiting_household ON parcels(household_id) WHERE status = 'waiting';
CREATE INDEX parcels_waiting_in_order ON parcels(status, id) WHERE status = 'waiting';
CREATE INDEX parcels_waiting_in_slot ON parcels(slot_code, id) WHERE status = 'waiting';
CREATE INDEX parcels_room_unconfirmed ON parcels(id)
    WHERE room_confirmed = 0 AND status = 'waiting';
CREATE INDEX parcels_household_closed ON parcels(household_id, id)
    WHERE status != 'waiting';
CREATE INDEX parcels_ref ON parcels(ref);
CREATE INDEX parcels_pickup_code ON parcels(pickup_code_id);
CREATE INDEX outbox_parcel ON outbox(parcel_id);
CREATE INDEX events_task ON events(json_extract(detail, '$.task'), id)
    WHERE json_extract(detail, '$.task') IS NOT NULL;
CREATE INDEX events_refused ON events(at) WHERE kind IN ('scan_refused', 'needs_room');
ALTER TABLE pickup_codes ADD COLUMN revoked_reason TEXT;
