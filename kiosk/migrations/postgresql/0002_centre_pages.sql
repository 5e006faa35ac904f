-- 2 (issue 21): the compound's pages read the gates' mirrors through indexes a term narrows,
-- never the whole history (as the gate's own pages do, kiosk/queries.py):
--   a label typed or scanned into the search box;
--   a door task's events (handovers, escalations, a wrong door, the delivery), for a parcel's
--   timeline and the teams' counts;
--   a household's events (its observation changes while a parcel waited);
--   the door tasks a parcel belongs to.
CREATE INDEX parcels_label ON parcels(community_id, label);
CREATE INDEX events_task ON events(community_id, gate_id, (detail->>'task'))
    WHERE detail ? 'task';
CREATE INDEX events_household ON events(community_id, household_id, at)
    WHERE household_id IS NOT NULL;
CREATE INDEX door_task_parcels_parcel
    ON door_task_parcels(community_id, gate_id, parcel_origin, parcel_id);
