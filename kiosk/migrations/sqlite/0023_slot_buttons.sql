-- 23 (issue 24): a slot may have a button that confirms what goes in and out. The store knows
-- which slots have one (mirrored from the configuration, like the rest of a slot), when a
-- parcel was confirmed in its slot (``placed_at``; NULL: not pressed, or a slot without a
-- button), and a light of its own for a mistake: ``alarm``, a fast blink on the slot pressed
-- and on the slot meant. SQLite cannot change a CHECK in place, so the signals table (a few
-- short-lived rows) is rebuilt as in 10. Self-contained: renumber freely on a merge.

ALTER TABLE slots ADD COLUMN button INTEGER NOT NULL DEFAULT 0 CHECK (button IN (0, 1));
ALTER TABLE parcels ADD COLUMN placed_at TEXT;

CREATE TABLE signals_v23 (
    slot_code TEXT NOT NULL REFERENCES slots(code),
    layer TEXT NOT NULL DEFAULT 'gate' CHECK (layer IN ('gate', 'staff')),
    mode TEXT NOT NULL CHECK (mode IN ('on', 'blink', 'collect', 'alarm')),
    until TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (slot_code, layer),
    CHECK ((layer = 'staff') = (mode = 'collect'))
);
INSERT INTO signals_v23 (slot_code, layer, mode, until, reason)
    SELECT slot_code, layer, mode, until, reason FROM signals;
DROP TABLE signals;
ALTER TABLE signals_v23 RENAME TO signals;

-- The kiosk looks for parcels waiting to be confirmed after every press and once a second.
CREATE INDEX parcels_unplaced ON parcels(checked_in_at)
    WHERE status = 'waiting' AND placed_at IS NULL;
