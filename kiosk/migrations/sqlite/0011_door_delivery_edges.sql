-- 11: door delivery's edge cases (issue 9): a parcel whose task was cancelled (released)
-- joins a new one if its household goes under observation again, so a parcel may be in
-- several tasks over time (one open at most: kiosk.tasks keeps it so, the proofs check
-- it); why a task was cancelled; a pickup code withdrawn when its household went under
-- observation (used_at is set too, so it opens nothing and is not drawn again soon).

ALTER TABLE door_tasks ADD COLUMN closed_reason TEXT;
UPDATE door_tasks SET closed_reason = 'released' WHERE status = 'cancelled';
ALTER TABLE pickup_codes ADD COLUMN revoked_at TEXT;
CREATE TABLE door_task_parcels_11 (
    task_id INTEGER NOT NULL REFERENCES door_tasks(id),
    parcel_id INTEGER NOT NULL REFERENCES parcels(id),
    PRIMARY KEY (task_id, parcel_id)
);
INSERT INTO door_task_parcels_11 (task_id, parcel_id)
    SELECT task_id, parcel_id FROM door_task_parcels;
DROP TABLE door_task_parcels;
ALTER TABLE door_task_parcels_11 RENAME TO door_task_parcels;
CREATE INDEX door_task_parcels_parcel ON door_task_parcels(parcel_id);
