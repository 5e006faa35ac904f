-- 10: a team collecting its door-delivery parcels (issue 9): their slots double-blink
-- ('collect') in a layer of their own ('staff'), beside the gate's light ('gate': a
-- courier's check-in, a resident's pickup). Neither hides the other for good: the gate's
-- light shows while it lasts, then the team's pattern again. SQLite cannot change a CHECK
-- or a primary key in place, so the table (a few short-lived rows) is rebuilt.

CREATE TABLE signals_v10 (
    slot_code TEXT NOT NULL REFERENCES slots(code),
    layer TEXT NOT NULL DEFAULT 'gate' CHECK (layer IN ('gate', 'staff')),
    mode TEXT NOT NULL CHECK (mode IN ('on', 'blink', 'collect')),
    until TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (slot_code, layer),
    CHECK ((layer = 'staff') = (mode = 'collect'))
);
INSERT INTO signals_v10 (slot_code, layer, mode, until, reason)
    SELECT slot_code, 'gate', mode, until, reason FROM signals;
DROP TABLE signals;
ALTER TABLE signals_v10 RENAME TO signals;
