-- 4 (issue 22): a closed day's counts, kept per gate.
-- A district's day reads every compound's events, parcels and door tasks; once the day is over
-- it changes only when a gate's records of it arrive late (a gate offline for days). So what
-- `counted_rows` reads for a gate's day is kept here the first time the day is asked for, and
-- a batch applied from the gate drops every kept day of that gate that ends after the
-- earliest moment the batch speaks of (kiosk.centre.intake): the next reading counts those
-- again. Today is always counted live.
CREATE TABLE day_counts (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    day DATE NOT NULL,
    timezone TEXT NOT NULL,                 -- the day is midnight to midnight here
    ends_at TIMESTAMPTZ NOT NULL,           -- the day's end: a change before it may change it
    counted JSONB NOT NULL,                 -- the gate's events (grouped), waiting, team_waiting
    counted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (day, timezone, community_id, gate_id),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates(community_id, id)
);
CREATE INDEX day_counts_gate ON day_counts(community_id, gate_id, ends_at);

