-- 6: carriers' own waybills (issue 7): a parcel keyed by its tracking number (in ``label``,
-- unique like a shelf label, so a rescan finds it), the symbology the camera read, a room
-- typed at the gate that the phone digits did not settle, and parcels announced in advance

ALTER TABLE parcels ADD COLUMN kind TEXT NOT NULL DEFAULT 'shelf'
    CHECK (kind IN ('shelf', 'carrier'));
ALTER TABLE parcels ADD COLUMN symbology TEXT;  -- QRCODE, CODE128 ...; NULL when typed
ALTER TABLE parcels ADD COLUMN room_confirmed INTEGER NOT NULL DEFAULT 1
    CHECK (room_confirmed IN (0, 1));
CREATE INDEX parcels_room_unconfirmed ON parcels(id)
    WHERE room_confirmed = 0 AND status = 'waiting';
CREATE TABLE expected (
    code TEXT PRIMARY KEY,                  -- the tracking number, upper case
    household_id TEXT NOT NULL REFERENCES households(id),
    announced_by TEXT NOT NULL,             -- who said so: 'alice@web', 'api@web' ...
    announced_at TEXT NOT NULL,
    used_at TEXT,                           -- when its parcel was checked in
    parcel_id INTEGER REFERENCES parcels(id)
);
