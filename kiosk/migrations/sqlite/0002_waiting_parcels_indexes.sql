-- 2: what a check-in, a pickup and the shelf page look up stays cheap however long the
-- history grows (1M collected parcels cost what 1k do)

CREATE INDEX parcels_waiting_household ON parcels(household_id) WHERE status = 'waiting';
CREATE INDEX parcels_waiting_in_order ON parcels(status, id) WHERE status = 'waiting';
CREATE INDEX parcels_waiting_in_slot ON parcels(slot_code, id) WHERE status = 'waiting';
CREATE INDEX pickup_codes_household ON pickup_codes(household_id) WHERE used_at IS NULL;
