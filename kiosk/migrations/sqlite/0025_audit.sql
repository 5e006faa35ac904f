-- 25 (issue 24): the shelf audit guided by light (kiosk.audit). An audit visits, one at a
-- time, each slot that should hold parcels (``slot_code``: the one lit now, in a blink of its
-- own); staff confirm it ("all here": its button, a tap on the phone, `shelf audit next`) or
-- note what is missing, extra or moved first. Its state lives here, not in a process: a
-- paused audit, or one running when the kiosk restarted, goes on where it was. One audit is
-- open (running or paused) at a time. Gate-local: nothing here is journaled to a centre.
-- Self-contained: renumber freely on a merge.

CREATE TABLE audits (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,               -- 'li@web', 'root@shell'
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'paused', 'done')),
    slot_code TEXT REFERENCES slots(code),  -- the slot being checked; NULL once done
    ended_at TEXT,
    ended_by TEXT,
    slots_left INTEGER,                     -- slots holding parcels not checked when it ended
    CHECK ((status = 'done') = (ended_at IS NOT NULL))
);
CREATE UNIQUE INDEX audits_one_open ON audits ((status = 'done')) WHERE status != 'done';

CREATE TABLE audit_slots (                  -- each slot confirmed by an audit
    audit_id INTEGER NOT NULL REFERENCES audits(id),
    slot_code TEXT NOT NULL REFERENCES slots(code),
    checked_at TEXT NOT NULL,
    checked_by TEXT NOT NULL,
    how TEXT NOT NULL CHECK (how IN ('button', 'phone', 'shell')),
    listed INTEGER NOT NULL,                -- parcels the list said it should hold
    PRIMARY KEY (audit_id, slot_code)
);

CREATE TABLE audit_problems (               -- each discrepancy: an exception until it is settled
    id INTEGER PRIMARY KEY,
    audit_id INTEGER NOT NULL REFERENCES audits(id),
    kind TEXT NOT NULL CHECK (kind IN ('missing', 'extra', 'moved')),
    slot_code TEXT NOT NULL REFERENCES slots(code), -- where staff noticed it
    parcel_id INTEGER REFERENCES parcels(id),       -- NULL: an extra parcel the shelf never had
    home_slot TEXT,                                 -- moved: the slot the parcel belongs in
    waybill TEXT,                                   -- extra: what staff typed or scanned
    noted_at TEXT NOT NULL,
    noted_by TEXT NOT NULL
);
-- A parcel is one problem per audit: missing in its slot, then found in another = moved.
CREATE UNIQUE INDEX audit_problems_parcel ON audit_problems(audit_id, parcel_id);
CREATE INDEX audit_problems_noted ON audit_problems(noted_at);
