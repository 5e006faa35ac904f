-- 21 (issue 21): a gate of a compound keeps a journal of what it owns, for its centre. Every
-- change of a parcel, a door task, a task's parcels, and every event, is written here by a
-- trigger, in the very transaction that made the change: what is committed is journaled,
-- and nothing else. The journal is numbered (``seq``, never reused: AUTOINCREMENT) within
-- an epoch: this store's install id, new at every `shelf restore` (kiosk.store.journal), so
-- that the centre keys records by (gate, epoch, seq) and a store that counts from an older
-- number again never collides with what it sent before. ``origin`` is the epoch a parcel or
-- a task was made in: the same key for the centre's copy of it. Nothing is journaled until
-- the gate joins a centre (``journaling``): a gate on its own writes only the origins.
-- Self-contained (issue 21's own tables and triggers): renumber freely on a merge.

CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch TEXT NOT NULL,                    -- this store's install id
    parent TEXT,                            -- the epoch this one continues (a restore)
    base INTEGER NOT NULL DEFAULT 0,        -- this epoch's records start after this seq
    journaling INTEGER NOT NULL DEFAULT 0 CHECK (journaling IN (0, 1)),
    acked INTEGER NOT NULL DEFAULT 0,       -- the centre has applied the journal through this
    commands INTEGER NOT NULL DEFAULT 0,    -- the centre's commands applied through this seq
    last_sync_at TEXT,                      -- the last exchange the centre answered
    last_error TEXT                         -- why the last one failed (no secret in it)
);
INSERT INTO sync_state (id, epoch) VALUES (1, lower(hex(randomblob(16))));

CREATE TABLE sync_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch TEXT NOT NULL,
    at TEXT NOT NULL,                       -- when the gate wrote it (its wall clock)
    kind TEXT NOT NULL CHECK (kind IN ('parcels', 'door_tasks', 'door_task_parcels', 'events')),
    data TEXT NOT NULL                      -- the row as it is now, as JSON
);

ALTER TABLE parcels ADD COLUMN origin TEXT;
ALTER TABLE door_tasks ADD COLUMN origin TEXT;
UPDATE parcels SET origin = (SELECT epoch FROM sync_state);
UPDATE door_tasks SET origin = (SELECT epoch FROM sync_state);

CREATE TRIGGER parcels_journal_insert AFTER INSERT ON parcels BEGIN
    UPDATE parcels SET origin = (SELECT epoch FROM sync_state) WHERE id = NEW.id;
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'parcels', json_object(
            'id', p.id, 'origin', p.origin, 'label', p.label, 'ref', p.ref,
            'household_id', p.household_id, 'slot_code', p.slot_code, 'status', p.status,
            'kind', p.kind, 'symbology', p.symbology, 'room_confirmed', p.room_confirmed,
            'fresh', p.fresh, 'checked_in_at', p.checked_in_at, 'closed_at', p.closed_at)
        FROM parcels p, sync_state s WHERE p.id = NEW.id AND s.journaling = 1;
END;
CREATE TRIGGER parcels_journal_update AFTER UPDATE ON parcels WHEN OLD.origin IS NOT NULL BEGIN
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'parcels', json_object(
            'id', NEW.id, 'origin', NEW.origin, 'label', NEW.label, 'ref', NEW.ref,
            'household_id', NEW.household_id, 'slot_code', NEW.slot_code, 'status', NEW.status,
            'kind', NEW.kind, 'symbology', NEW.symbology, 'room_confirmed', NEW.room_confirmed,
            'fresh', NEW.fresh, 'checked_in_at', NEW.checked_in_at, 'closed_at', NEW.closed_at)
        FROM sync_state s WHERE s.journaling = 1;
END;

CREATE TRIGGER door_tasks_journal_insert AFTER INSERT ON door_tasks BEGIN
    UPDATE door_tasks SET origin = (SELECT epoch FROM sync_state) WHERE id = NEW.id;
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'door_tasks', json_object(
            'id', t.id, 'origin', t.origin, 'household_id', t.household_id, 'team', t.team,
            'status', t.status, 'created_at', t.created_at, 'assigned_at', t.assigned_at,
            'fresh_since', t.fresh_since, 'escalations', t.escalations,
            'closed_at', t.closed_at, 'closed_by', t.closed_by,
            'closed_reason', t.closed_reason, 'told_at', t.told_at)
        FROM door_tasks t, sync_state s WHERE t.id = NEW.id AND s.journaling = 1;
END;
CREATE TRIGGER door_tasks_journal_update AFTER UPDATE ON door_tasks
    WHEN OLD.origin IS NOT NULL BEGIN
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'door_tasks', json_object(
            'id', NEW.id, 'origin', NEW.origin, 'household_id', NEW.household_id,
            'team', NEW.team, 'status', NEW.status, 'created_at', NEW.created_at,
            'assigned_at', NEW.assigned_at, 'fresh_since', NEW.fresh_since,
            'escalations', NEW.escalations, 'closed_at', NEW.closed_at,
            'closed_by', NEW.closed_by, 'closed_reason', NEW.closed_reason,
            'told_at', NEW.told_at)
        FROM sync_state s WHERE s.journaling = 1;
END;

CREATE TRIGGER door_task_parcels_journal AFTER INSERT ON door_task_parcels BEGIN
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'door_task_parcels',
            json_object('task_id', NEW.task_id,
                        'task_origin', (SELECT origin FROM door_tasks WHERE id = NEW.task_id),
                        'parcel_id', NEW.parcel_id,
                        'parcel_origin', (SELECT origin FROM parcels WHERE id = NEW.parcel_id))
        FROM sync_state s WHERE s.journaling = 1;
END;

CREATE TRIGGER events_journal AFTER INSERT ON events BEGIN
    INSERT INTO sync_journal (epoch, at, kind, data)
        SELECT s.epoch, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'events', json_object(
            'id', NEW.id, 'at', NEW.at, 'kind', NEW.kind, 'actor', NEW.actor,
            'parcel_id', NEW.parcel_id,
            'parcel_origin', (SELECT origin FROM parcels WHERE id = NEW.parcel_id),
            'household_id', NEW.household_id, 'slot_code', NEW.slot_code,
            'detail', json(NEW.detail),
            'task_origin', (SELECT origin FROM door_tasks
                            WHERE id = json_extract(NEW.detail, '$.task')))
        FROM sync_state s WHERE s.journaling = 1;
END;
