-- 1 (issue 21): the compound's centre. Every row belongs to a community (a compound, by its
-- stable slug: [community] id) and, where a gate owns the fact, to a gate ([gate] id).
-- One owner per fact (README "Several gates, one compound"):
--   the gates own custody: parcels, door tasks and their events arrive here as records
--   (sync_records), each applied once into the mirrors below (parcels, door_tasks,
--   door_task_parcels, events: the gate's tables, same names and shapes, plus community_id,
--   gate_id and the epoch a row was made in);
--   the centre owns households, the observation register and staff accounts: they are
--   changed here and travel down to every gate as commands.
-- Ids and sequences are BIGINT, as SQLite's INTEGER is 64-bit. Times are timestamptz.

CREATE TABLE communities (
    id TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),  -- 'xujiahui-garden'
    name TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE gates (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id TEXT NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),  -- 'north'
    name TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,        -- SHA-256 of the gate's bearer token, never it
    created_at TIMESTAMPTZ NOT NULL,
    last_command BIGINT NOT NULL DEFAULT 0, -- the newest command's seq (taken under FOR UPDATE)
    epoch TEXT,                             -- the epoch the gate said it writes in now
    schema_version INTEGER,                 -- of the gate's store, at its last sync
    last_sync_at TIMESTAMPTZ,               -- the gate's health, as its last sync said it
    pending BIGINT NOT NULL DEFAULT 0,
    oldest_pending_at TIMESTAMPTZ,
    commands_applied BIGINT NOT NULL DEFAULT 0,
    status JSONB NOT NULL DEFAULT '{}',     -- heartbeat, camera, failed notices, teams ...
    PRIMARY KEY (community_id, id)
);

-- The tracking rows (pyeventsourcing's process recorder): how far each epoch of each gate is
-- applied, updated in the same transaction as the records it counts. An epoch is a gate
-- store's install id, new at every `shelf restore` (or when the centre finds the store
-- rewound): records are keyed by (gate, epoch, seq), so a store that counts from an older
-- number again never collides with what it sent before.
CREATE TABLE gate_epochs (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    parent TEXT,                            -- the epoch this one continues (NULL: the first)
    base BIGINT NOT NULL,                   -- the epoch's records start after this seq
    applied BIGINT NOT NULL,                -- applied through this seq (base: none yet)
    started_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community_id, gate_id, epoch),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates(community_id, id),
    CHECK (applied >= base)
);

-- Every record a gate sent, as sent: a record arriving again is compared with this one.
CREATE TABLE sync_records (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,                -- when the gate wrote it
    kind TEXT NOT NULL,                     -- parcels, door_tasks, door_task_parcels, events
    data JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community_id, gate_id, epoch, seq),
    FOREIGN KEY (community_id, gate_id, epoch) REFERENCES gate_epochs(community_id, gate_id, epoch)
);

-- What needs a person: a gate restored or rewound, a record that differs from the one the
-- centre holds under the same key. Never a silent skip.
CREATE TABLE sync_alarms (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('restored', 'rewound', 'conflict')),
    epoch TEXT,
    seq BIGINT,
    detail JSONB NOT NULL DEFAULT '{}',
    resolved_at TIMESTAMPTZ,
    resolved_by TEXT,
    FOREIGN KEY (community_id, gate_id) REFERENCES gates(community_id, id)
);
CREATE INDEX sync_alarms_open ON sync_alarms(community_id, id) WHERE resolved_at IS NULL;

-- Decisions taken here about what a gate owns (a door delivery confirmed on a phone, a
-- parcel handed out from the compound's site), and the centre's own lists going down (the
-- household list, an observation list, a staff account): numbered per gate under the gate
-- row's lock, so commit order is number order and a gate reading "after N" skips nothing.
CREATE TABLE commands (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,                     -- deliver, hand_out, households, observation, staff
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'refused')),
    result JSONB,                           -- what the gate said (refused: why)
    done_at TIMESTAMPTZ,                    -- when the gate applied or refused it
    PRIMARY KEY (community_id, gate_id, seq),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates(community_id, id)
);
CREATE INDEX commands_pending ON commands(community_id, gate_id, seq) WHERE status = 'pending';

-- Mirrors of what the gates own, as each gate's records said (same names and shapes as the
-- gate's SQLite tables). ``origin`` is the epoch the gate made the row in: a restored gate
-- counts its parcel ids from an older number again, and (gate, origin, id) stays unique.
-- ``seq`` is the record that last wrote the row.
CREATE TABLE parcels (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    id BIGINT NOT NULL,
    label TEXT NOT NULL,
    ref TEXT NOT NULL,
    household_id TEXT NOT NULL,
    slot_code TEXT NOT NULL,
    status TEXT NOT NULL,                   -- waiting, collected, returned, withdrawn
    kind TEXT NOT NULL,
    symbology TEXT,
    room_confirmed BOOLEAN NOT NULL,
    fresh BOOLEAN NOT NULL,
    checked_in_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    seq BIGINT NOT NULL,
    PRIMARY KEY (community_id, gate_id, origin, id)
);
CREATE INDEX parcels_waiting ON parcels(community_id, gate_id, slot_code)
    WHERE status = 'waiting';
CREATE INDEX parcels_household ON parcels(community_id, household_id);
CREATE INDEX parcels_ref ON parcels(community_id, ref);

CREATE TABLE door_tasks (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    id BIGINT NOT NULL,
    household_id TEXT NOT NULL,
    team TEXT NOT NULL,
    status TEXT NOT NULL,                   -- open, delivered, cancelled
    created_at TIMESTAMPTZ NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL,
    fresh_since TIMESTAMPTZ,
    escalations INTEGER NOT NULL,
    closed_at TIMESTAMPTZ,
    closed_by TEXT,
    closed_reason TEXT,
    told_at TIMESTAMPTZ,
    seq BIGINT NOT NULL,
    PRIMARY KEY (community_id, gate_id, origin, id)
);
CREATE INDEX door_tasks_open ON door_tasks(community_id, household_id) WHERE status = 'open';

CREATE TABLE door_task_parcels (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    task_origin TEXT NOT NULL,
    task_id BIGINT NOT NULL,
    parcel_origin TEXT NOT NULL,
    parcel_id BIGINT NOT NULL,
    PRIMARY KEY (community_id, gate_id, task_origin, task_id, parcel_origin, parcel_id)
);

CREATE TABLE events (
    community_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    epoch TEXT NOT NULL,                    -- with seq: the record that brought it
    seq BIGINT NOT NULL,
    id BIGINT NOT NULL,                     -- the gate's event id
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    parcel_origin TEXT,
    parcel_id BIGINT,
    household_id TEXT,
    slot_code TEXT,
    detail JSONB NOT NULL,
    PRIMARY KEY (community_id, gate_id, epoch, seq)
);
CREATE INDEX events_at ON events(community_id, at);
CREATE INDEX events_parcel ON events(community_id, gate_id, parcel_origin, parcel_id);

-- What the centre owns: the household list, the observation register, staff accounts.
CREATE TABLE households (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id TEXT NOT NULL,                       -- '24-2304'
    building INTEGER NOT NULL,
    room TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    under_observation BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community_id, id)
);

CREATE TABLE list_files (                   -- household and observation lists, as received
    community_id TEXT NOT NULL REFERENCES communities(id),
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('households', 'observation')),
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL,
    stored_by TEXT NOT NULL,
    PRIMARY KEY (community_id, kind, sha256)
);

CREATE TABLE observation_lists (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id),
    applied_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    list_date DATE NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('status', 'full')),
    added INTEGER NOT NULL,
    released INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    problems INTEGER NOT NULL
);

CREATE TABLE staff (
    community_id TEXT NOT NULL REFERENCES communities(id),
    username TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'committee', 'property', 'gate')),
    team TEXT,
    password_hash TEXT NOT NULL,
    credential BIGINT NOT NULL DEFAULT 1,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community_id, username),
    CHECK (team IS NULL OR role IN ('committee', 'property'))
);
CREATE UNIQUE INDEX staff_username ON staff(community_id, lower(username));

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,                    -- SHA-256 of the cookie's token
    community_id TEXT NOT NULL REFERENCES communities(id),
    username TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ
);
CREATE INDEX sessions_live ON sessions(community_id, lower(username)) WHERE ended_at IS NULL;

CREATE TABLE attempts (                     -- sign-in guesses, throttled
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL,
    ok BOOLEAN NOT NULL
);
CREATE INDEX attempts_recent ON attempts(community_id, source, at);

CREATE TABLE lockouts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    username TEXT,
    client TEXT NOT NULL
);
CREATE INDEX lockouts_at ON lockouts(community_id, at);

-- The centre's own history: lists applied, accounts changed, commands given, alarms resolved.
CREATE TABLE centre_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    gate_id TEXT,
    household_id TEXT,
    detail JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX centre_events_at ON centre_events(community_id, at);
