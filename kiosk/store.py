"""The SQLite store: connection pragmas, versioned schema, unit of work and repositories.

This module and ``kiosk.queries`` (the read side) hold all of the shelf's SQL; the rest of the
core speaks to the store through the ports in ``kiosk.ports`` and gets domain types back.

Durability rules: WAL with ``synchronous=FULL`` so a committed transaction survives a power
cut; every write happens inside one explicit ``BEGIN IMMEDIATE`` transaction (the unit of
work), so a kill -9 at any moment leaves either all of a check-in or none of it. SQLite's own
errors (locked, busy, disk full, I/O) leave here as StoreUnavailable.

Only `shelf init` creates a database; everything else opens an existing one and refuses a
missing, empty, damaged or foreign file (NotAStore) instead of starting an empty community.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.domain import (
    Announcement,
    DoorTask,
    Household,
    HouseholdId,
    ParcelKind,
    ParcelRecord,
    ParcelStatus,
    PickupCode,
    QueuedNotice,
    Slot,
    SlotLoad,
    TaskStatus,
    format_buildings,
)
from kiosk.errors import NotAStore, StorageFull, StoreUnavailable
from kiosk.ports import AppliedList, LightMode, ListFile, StaffMember
from kiosk.timefmt import iso

BUSY_TIMEOUT_MS = 10_000
# In every shelf database's header (bytes 68-71, "SHLF"): a file without it is not ours.
APPLICATION_ID = 0x53484C46

MIGRATIONS: list[str] = [
    # 1: the walking skeleton
    """
    CREATE TABLE households (
        id TEXT PRIMARY KEY,                    -- '24-2304'
        building INTEGER NOT NULL,
        room TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        under_observation INTEGER NOT NULL DEFAULT 0 CHECK (under_observation IN (0, 1)),
        updated_at TEXT NOT NULL
    );
    CREATE TABLE slots (
        code TEXT PRIMARY KEY,                  -- 'A-07', or the overflow place's code
        shelf TEXT NOT NULL,
        position INTEGER NOT NULL,
        capacity INTEGER NOT NULL,
        buildings TEXT NOT NULL DEFAULT '',     -- '1-2' as configured; '' = any building
        overflow INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1       -- 0 once removed from the configuration
    );
    CREATE TABLE pickup_codes (
        id INTEGER PRIMARY KEY,
        household_id TEXT NOT NULL REFERENCES households(id),
        code TEXT NOT NULL,
        created_at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE UNIQUE INDEX pickup_codes_active ON pickup_codes(code) WHERE used_at IS NULL;
    CREATE TABLE parcels (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,             -- the scanned payload that created it
        ref TEXT NOT NULL,
        household_id TEXT NOT NULL REFERENCES households(id),
        slot_code TEXT NOT NULL REFERENCES slots(code),
        status TEXT NOT NULL CHECK (status IN ('waiting', 'collected')),
        pickup_code_id INTEGER REFERENCES pickup_codes(id),
        checked_in_at TEXT NOT NULL,
        closed_at TEXT
    );
    CREATE INDEX parcels_waiting ON parcels(slot_code, household_id) WHERE status = 'waiting';
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        parcel_id INTEGER REFERENCES parcels(id),
        household_id TEXT,
        slot_code TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_parcel ON events(parcel_id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,                     -- pickup_ready, door_delivery
        channel TEXT NOT NULL,                  -- a [[channels]] id
        recipient TEXT NOT NULL,
        household_id TEXT REFERENCES households(id),
        parcel_id INTEGER REFERENCES parcels(id),
        payload TEXT NOT NULL,                  -- JSON: what the message says
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
    CREATE TABLE signals (
        slot_code TEXT PRIMARY KEY REFERENCES slots(code),
        mode TEXT NOT NULL CHECK (mode IN ('on', 'blink')),
        until TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE attempts (                     -- guesses to throttle: pickup codes, logins
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        source TEXT NOT NULL,                   -- 'pickup:camera', 'login:alice' ...
        ok INTEGER NOT NULL
    );
    CREATE INDEX attempts_recent ON attempts(source, at);
    """,
    # 2: what a check-in, a pickup and the shelf page look up stays cheap however long the
    # history grows (1M collected parcels cost what 1k do)
    """
    CREATE INDEX parcels_waiting_household ON parcels(household_id) WHERE status = 'waiting';
    CREATE INDEX parcels_waiting_in_order ON parcels(status, id) WHERE status = 'waiting';
    CREATE INDEX parcels_waiting_in_slot ON parcels(slot_code, id) WHERE status = 'waiting';
    CREATE INDEX pickup_codes_household ON pickup_codes(household_id) WHERE used_at IS NULL;
    """,
    # 3: drawing a pickup code asks whether anyone used that code lately (a used code is not
    # reissued for months, so an old pass or a remembered code opens nothing); the staff page
    # lists notices that gave up without reading the whole outbox
    """
    CREATE INDEX pickup_codes_by_code ON pickup_codes(code, used_at);
    CREATE INDEX outbox_failed ON outbox(id) WHERE status = 'failed';
    """,
    # 4: staff sign-in sessions that end on the server (sign-out, a removed user), the
    # lockouts shown to admins, and old attempts pruned by time
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,                    -- SHA-256 of the cookie's token, never the token
        username TEXT NOT NULL,
        credential TEXT NOT NULL,               -- fingerprint of the password hash at sign-in
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE TABLE lockouts (                     -- sign-ins refused for a while, for admins
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        until TEXT NOT NULL,
        username TEXT,                          -- as typed (bounded); NULL = every username
        client TEXT NOT NULL                    -- the client's address
    );
    CREATE INDEX lockouts_at ON lockouts(at);
    CREATE INDEX attempts_at ON attempts(at);
    """,
    # 5: mark the file as a shelf database, so that an empty, foreign or mistyped file is
    # refused at start instead of being taken for a new, empty community
    f"""
    PRAGMA application_id = {APPLICATION_ID};
    """,
    # 6: carriers' own waybills (issue 7): a parcel keyed by its tracking number (in ``label``,
    # unique like a shelf label, so a rescan finds it), the symbology the camera read, a room
    # typed at the gate that the phone digits did not settle, and parcels announced in advance
    """
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
    """,
    # 7: the camera's still of each scan (issue 8): one small JPEG per scan, linked to every
    # event the scan recorded (a pickup of three parcels shares one), written in the events'
    # transaction. After [kiosk] stills_days its picture is deleted and the row stays, so a
    # timeline can say "deleted after 14 days" instead of showing a broken image.
    """
    CREATE TABLE stills (
        id INTEGER PRIMARY KEY,
        taken_at TEXT NOT NULL,
        jpeg BLOB,                              -- NULL once deleted
        deleted_at TEXT
    );
    CREATE INDEX stills_kept ON stills(taken_at) WHERE jpeg IS NOT NULL;
    CREATE TABLE event_stills (
        event_id INTEGER PRIMARY KEY REFERENCES events(id),
        still_id INTEGER NOT NULL REFERENCES stills(id)
    );
    """,
    # 8: the observation register (issue 9): each day's list as received (its bytes, so what
    # was applied can be read again), and every list applied, by whom, for which day. The
    # per-household history reads its events through a small partial index.
    """
    CREATE TABLE observation_files (
        sha256 TEXT PRIMARY KEY,                -- of the bytes: a list is known by its content
        name TEXT NOT NULL,                     -- the file's name as given (first seen)
        data BLOB NOT NULL,
        stored_at TEXT NOT NULL,
        stored_by TEXT NOT NULL
    );
    CREATE TABLE observation_lists (
        id INTEGER PRIMARY KEY,
        applied_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        list_date TEXT NOT NULL,                -- the day the list is for: '2026-11-29'
        source TEXT NOT NULL DEFAULT '',        -- who sent it: 'committee', 'property' ...
        file_name TEXT NOT NULL,
        sha256 TEXT NOT NULL REFERENCES observation_files(sha256),
        format TEXT NOT NULL CHECK (format IN ('status', 'full')),
        added INTEGER NOT NULL,
        released INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        problems INTEGER NOT NULL               -- > 0: applied with its problems confirmed
    );
    CREATE INDEX observation_lists_file ON observation_lists(sha256, list_date, source);
    CREATE TRIGGER observation_lists_no_update BEFORE UPDATE ON observation_lists
        BEGIN SELECT RAISE(ABORT, 'the observation register is append-only'); END;
    CREATE TRIGGER observation_lists_no_delete BEFORE DELETE ON observation_lists
        BEGIN SELECT RAISE(ABORT, 'the observation register is append-only'); END;
    CREATE INDEX events_observation ON events(household_id, id)
        WHERE kind IN ('observation_added', 'observation_released');
    """,
    # 9: door delivery (issue 9): a household under observation gets its parcels carried to
    # the door by the team serving its building (``kiosk.routing``); one open task per
    # household gathers its parcels; fresh food goes first. The day's counts read events by
    # time.
    """
    ALTER TABLE parcels ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1));
    ALTER TABLE expected ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1));
    CREATE TABLE door_tasks (
        id INTEGER PRIMARY KEY,
        household_id TEXT NOT NULL REFERENCES households(id),
        team TEXT NOT NULL,                     -- the [[teams]] id holding it now
        status TEXT NOT NULL DEFAULT 'open'
            CHECK (status IN ('open', 'delivered', 'cancelled')),
        created_at TEXT NOT NULL,
        assigned_at TEXT NOT NULL,              -- since when ``team`` holds it
        fresh_since TEXT,                       -- when fresh food joined it; NULL: not fresh
        escalations INTEGER NOT NULL DEFAULT 0, -- 1: its team told again; 2: the others too
        closed_at TEXT,
        closed_by TEXT                          -- who delivered or cancelled it
    );
    CREATE UNIQUE INDEX door_tasks_one_open ON door_tasks(household_id) WHERE status = 'open';
    CREATE INDEX door_tasks_open ON door_tasks(id) WHERE status = 'open';
    CREATE TABLE door_task_parcels (
        task_id INTEGER NOT NULL REFERENCES door_tasks(id),
        parcel_id INTEGER NOT NULL UNIQUE REFERENCES parcels(id),
        PRIMARY KEY (task_id, parcel_id)
    );
    CREATE INDEX events_at ON events(at);
    """,
    # 10: a team collecting its door-delivery parcels (issue 9): their slots double-blink
    # ('collect') in a layer of their own ('staff'), beside the gate's light ('gate': a
    # courier's check-in, a resident's pickup). Neither hides the other for good: the gate's
    # light shows while it lasts, then the team's pattern again. SQLite cannot change a CHECK
    # or a primary key in place, so the table (a few short-lived rows) is rebuilt.
    """
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
    """,
    # 11: door delivery's edge cases (issue 9): a parcel whose task was cancelled (released)
    # joins a new one if its household goes under observation again, so a parcel may be in
    # several tasks over time (one open at most: kiosk.tasks keeps it so, the proofs check
    # it); why a task was cancelled; a pickup code withdrawn when its household went under
    # observation (used_at is set too, so it opens nothing and is not drawn again soon).
    """
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
    """,
    # 12: whether the camera is lost right now (the gate screen asks at every poll): the newest
    # camera event, found without walking the history
    """
    CREATE INDEX events_camera ON events(id) WHERE kind IN ('camera_lost', 'camera_back');
    """,
    # 13: staff accounts in the store, not the config (issue 10): role, team, password hash
    # (argon2id; an old PBKDF2 one until its next sign-in), disabled. ``credential`` is raised
    # by a password reset and a disable, so every session signed in before it ends; every
    # change is an event naming who made it.
    """
    CREATE TABLE staff (
        username TEXT PRIMARY KEY COLLATE NOCASE,  -- 'li': 'Li' signs in as the same person
        name TEXT NOT NULL,                     -- as shown to people: 'Li Wei', '李伟'
        role TEXT NOT NULL CHECK (role IN ('admin', 'committee', 'property', 'gate')),
        team TEXT,                              -- a [[teams]] id for committee and property
        password_hash TEXT NOT NULL,
        credential INTEGER NOT NULL DEFAULT 1,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK (team IS NULL OR role IN ('committee', 'property'))
    );
    CREATE INDEX sessions_live ON sessions(username) WHERE ended_at IS NULL;
    """,
    # 14: the staff's day (issue 10). A parcel may leave the shelf otherwise than to its
    # household: ``returned`` to the courier, or ``withdrawn`` (a mistaken check-in undone).
    # SQLite cannot widen a CHECK in place, so the table is rebuilt (SQLite's own procedure:
    # ``migrate`` runs with foreign keys off and checks them before committing). Search reads
    # a household's, a reference's or a pickup code's parcels through their own indexes (a
    # household's past parcels through a partial index of those alone, so that a pickup still
    # reads the waiting ones, never the household's years of history); a
    # parcel's timeline its notices and its door tasks' events; the exceptions list the gate's
    # refusals of the last days, through a partial index on those alone. A pickup code says
    # why it was withdrawn, so a pass shown later is answered in the right words.
    """
    CREATE TABLE parcels_13 (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        ref TEXT NOT NULL,
        household_id TEXT NOT NULL REFERENCES households(id),
        slot_code TEXT NOT NULL REFERENCES slots(code),
        status TEXT NOT NULL
            CHECK (status IN ('waiting', 'collected', 'returned', 'withdrawn')),
        pickup_code_id INTEGER REFERENCES pickup_codes(id),
        checked_in_at TEXT NOT NULL,
        closed_at TEXT,
        kind TEXT NOT NULL DEFAULT 'shelf' CHECK (kind IN ('shelf', 'carrier')),
        symbology TEXT,
        room_confirmed INTEGER NOT NULL DEFAULT 1 CHECK (room_confirmed IN (0, 1)),
        fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1))
    );
    INSERT INTO parcels_13 (id, label, ref, household_id, slot_code, status, pickup_code_id,
                            checked_in_at, closed_at, kind, symbology, room_confirmed, fresh)
        SELECT id, label, ref, household_id, slot_code, status, pickup_code_id, checked_in_at,
               closed_at, kind, symbology, room_confirmed, fresh FROM parcels;
    DROP TABLE parcels;
    ALTER TABLE parcels_13 RENAME TO parcels;
    CREATE INDEX parcels_waiting ON parcels(slot_code, household_id) WHERE status = 'waiting';
    CREATE INDEX parcels_waiting_household ON parcels(household_id) WHERE status = 'waiting';
    CREATE INDEX parcels_waiting_in_order ON parcels(status, id) WHERE status = 'waiting';
    CREATE INDEX parcels_waiting_in_slot ON parcels(slot_code, id) WHERE status = 'waiting';
    CREATE INDEX parcels_room_unconfirmed ON parcels(id)
        WHERE room_confirmed = 0 AND status = 'waiting';
    CREATE INDEX parcels_household_closed ON parcels(household_id, id)
        WHERE status != 'waiting';
    CREATE INDEX parcels_ref ON parcels(ref);
    CREATE INDEX parcels_pickup_code ON parcels(pickup_code_id);
    CREATE INDEX outbox_parcel ON outbox(parcel_id);
    CREATE INDEX events_task ON events(json_extract(detail, '$.task'), id)
        WHERE json_extract(detail, '$.task') IS NOT NULL;
    CREATE INDEX events_refused ON events(at) WHERE kind IN ('scan_refused', 'needs_room');
    ALTER TABLE pickup_codes ADD COLUMN revoked_reason TEXT;
    """,
    # 15: household lists uploaded on the staff site (issue 10), kept by their SHA-256 between
    # the preview and the confirmation (both read these bytes), and after, as what was applied.
    # Apart from the observation lists: these carry every resident's phone and e-mail. A
    # household's page reads its edits through a small partial index.
    """
    CREATE TABLE household_files (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,                     -- the file's name as given (first seen)
        data BLOB NOT NULL,
        stored_at TEXT NOT NULL,
        stored_by TEXT NOT NULL
    );
    CREATE INDEX events_household_edited ON events(household_id, id)
        WHERE kind = 'household_edited';
    """,
    # 16 (issue 12): the running kiosk's heartbeat, one row rewritten every few seconds (healthz).
    """
    CREATE TABLE kiosk_heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        beat_at TEXT NOT NULL,                  -- when the kiosk loop last wrote this row
        last_frame_at TEXT                      -- when it last read a frame from the camera
    );
    -- GET /healthz asks for the newest backup without walking the whole history
    CREATE INDEX events_backup_made ON events(id) WHERE kind = 'backup_made';
    """,
    # 17 (issue 11): what was said about parcels still waiting, one row per parcel and round
    # ('1d', '3d' reminders, 'return' warning), written with the notice it queued: a restart or
    # a crash never says a round twice.
    """
    CREATE TABLE reminders (
        parcel_id INTEGER NOT NULL REFERENCES parcels(id),
        round TEXT NOT NULL,
        household_id TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (parcel_id, round)
    );
    """,
    # 18 (issue 11): a notice goes down a chain of contacts, in order of preference (channel and
    # recipient hold the one being tried; an older row's chain is that one contact), and a
    # worker claims a row with a lease before it sends, so that several workers can run
    """
    ALTER TABLE outbox ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';  -- [[channel, to], ...]
    ALTER TABLE outbox ADD COLUMN contact_index INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN contact_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until TEXT;
    """,
    # 19 (issue 11): when the team holding a door task was first told of it (fresh food, a
    # handover, or the notice worker's list of new tasks), so that a task is listed as new once.
    # Tasks of before count as told: an upgrade must not send the teams a list of old ones.
    """
    ALTER TABLE door_tasks ADD COLUMN told_at TEXT;
    UPDATE door_tasks SET told_at = created_at;
    CREATE INDEX door_tasks_untold ON door_tasks(id) WHERE status = 'open' AND told_at IS NULL;
    """,
]


def connect(path: str | Path, *, create: bool = False, mode: int = 0o600) -> sqlite3.Connection:
    """Open the store with the pragmas every process uses, and bring its schema up to date.

    Only `shelf init` creates a database (``create=True``, file ``mode``); every other caller
    gets NotAStore for a missing, empty, damaged or foreign file, never a fresh empty store.
    """
    path = Path(path)
    if create:
        _create_file(path, mode)
    else:
        _check_file(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not create:
            _check_identity(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise _open_error(path, exc) from None
    except RuntimeError as exc:
        conn.close()
        raise NotAStore(f"{path}: {exc}; run the newer program, or restore a backup") from None
    return conn


def _create_file(path: Path, mode: int) -> None:
    """Make the empty file SQLite will fill, with ``mode`` from the start; never overwrite."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    except FileExistsError:
        raise FileExistsError(f"{path} exists already; not overwriting it") from None


def _check_file(path: Path) -> None:
    """Refuse what cannot be this community's database before SQLite would make one."""
    if not path.exists():
        raise NotAStore(f"{path} does not exist; run `shelf init` to create a community")
    if not path.is_file():
        raise NotAStore(f"{path} is not a file; point [database] path at the shelf database")
    if path.stat().st_size == 0:
        raise NotAStore(f"{path} is empty, not a shelf database; restore it from a backup")
    # SQLite writes the file and makes its -wal and -shm beside it.
    for target, needs in ((path, os.R_OK | os.W_OK), (path.parent, os.W_OK | os.X_OK)):
        if not os.access(target, needs):
            raise StoreUnavailable(f"cannot write {target}: {_permissions(target)}; let the "
                                   "shelf's user write the database and its folder")


def _permissions(target: Path) -> str:
    info = target.stat()
    if os.statvfs(target).f_flag & os.ST_RDONLY:
        return "it is on a read-only file system"
    return f"permission denied (mode {info.st_mode & 0o777:04o}, owner uid {info.st_uid})"


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Accept a file marked as ours, or one made before the mark existed (migration 5 marks it)."""
    if conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
        return
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not (version and {"households", "parcels", "slots"} <= tables):
        raise NotAStore(f"{path} is an SQLite file but not a shelf database; "
                        "check [database] path, or restore the database from a backup")


def _disk_full(path: Path) -> bool:
    """True when nothing more fits on the disk (SQLite then says "disk I/O error")."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    """Say what an SQLite error while opening means for the person starting the shelf."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return NotAStore(f"{path} is not a shelf database (empty or damaged: {exc}); "
                         "restore it from a backup")
    if name.startswith("SQLITE_FULL") or _disk_full(path):
        return StorageFull(f"the disk under {path} is full; free some space ({exc})")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return StoreUnavailable(f"cannot write {path}: {exc}; let the shelf's user write the "
                                "database and its folder")
    return StoreUnavailable(f"cannot open {path}: {exc}")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this file has not seen yet; return the schema version."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return len(MIGRATIONS)  # the common case: no write lock taken
    # A migration may rebuild a table that others refer to (13: parcels): SQLite's procedure
    # turns foreign keys off for it (outside the transaction: inside, the pragma does nothing)
    # and checks them all before committing.
    keys_on = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema {version} is newer than this program ({len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            rows = [tuple(r) for r in broken][:3]
            raise RuntimeError(f"the migration broke foreign keys: {rows}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if keys_on else 'OFF'}")
    return len(MIGRATIONS)


def _statements(script: str) -> Iterable[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL in a migration: {buffer.strip()[:60]}")


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn SQLite's own errors into the shelf's: the callers above the store never see them."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a broken rule of the schema, not an unavailable store: callers decide
    except sqlite3.Error as exc:
        raise unavailable(exc) from exc


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    """The shelf's error for an SQLite error that means the store cannot serve now."""
    text = str(exc)
    if "full" in text:
        return StorageFull(f"the storage is full ({text}); nothing was saved")
    if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return NotAStore(f"the database is damaged ({text}); nothing was saved: restore a "
                         "backup (shelf restore)")
    return StoreUnavailable(f"the database is unavailable ({text}); nothing was saved")


class _Db:
    """The connection as the repositories use it: every statement's errors translated."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with translated_errors():
            return self.conn.execute(sql, tuple(params))


class SqliteUnitOfWork:
    """The UnitOfWork port on one SQLite connection: ``with uow: ...`` is one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        db = _Db(conn)
        self.households = Households(db)
        self.parcels = Parcels(db)
        self.codes = PickupCodes(db)
        self.stills = Stills(db)
        self.events = Events(db, self.stills)
        self.outbox = Outbox(db)
        self.signals = Signals(db)
        self.attempts = Attempts(db)
        self.slots = Slots(db)
        self.sessions = Sessions(db)
        self.lockouts = Lockouts(db)
        self.expected = Expected(db)
        self.observation = ObservationRegister(db)
        self.tasks = DoorTasks(db)
        self.staff = StaffAccounts(db)
        self.reminders = Reminders(db)
        self._depth = 0

    def __enter__(self) -> SqliteUnitOfWork:
        if self._depth == 0:
            with translated_errors():
                self.conn.execute("BEGIN IMMEDIATE")
            self.stills.begin()
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth:
            return  # an inner use case: the outermost one commits or rolls back
        if exc_type is None:
            try:
                with translated_errors():
                    self.conn.execute("COMMIT")
                return
            except StoreUnavailable:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):  # SQLite may have rolled back itself (SQLITE_FULL)
                self.conn.execute("ROLLBACK")


class Households:
    def __init__(self, db: _Db) -> None:
        self.db = db

    def get(self, household: HouseholdId) -> Household | None:
        row = self.db.execute("SELECT * FROM households WHERE id = ?",
                                (str(household),)).fetchone()
        return _household(row) if row else None

    def all(self) -> list[Household]:
        rows = self.db.execute("SELECT * FROM households ORDER BY building, room").fetchall()
        return [_household(r) for r in rows]

    def in_building(self, building: int) -> list[Household]:
        """Every household of one building (a typed room is checked against its neighbours)."""
        rows = self.db.execute("SELECT * FROM households WHERE building = ? ORDER BY room",
                               (building,)).fetchall()
        return [_household(r) for r in rows]

    def upsert(self, household: Household, now: datetime) -> str:
        """Insert or update; return 'added', 'changed' or 'same'."""
        old = self.get(household.id)
        if old == household:
            return "same"
        self.db.execute(
            """INSERT INTO households (id, building, room, name, phone, email,
                                       under_observation, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
                   email = excluded.email, under_observation = excluded.under_observation,
                   updated_at = excluded.updated_at""",
            (str(household.id), household.id.building, household.id.room, household.name,
             household.phone, household.email, int(household.under_observation), iso(now)),
        )
        return "added" if old is None else "changed"

    def keep_file(self, sha256: str, name: str, data: bytes, now: datetime, actor: str) -> None:
        """Keep an uploaded household list's bytes under their hash (once)."""
        self.db.execute(
            "INSERT INTO household_files (sha256, name, data, stored_at, stored_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, name, data, iso(now), actor))

    def file(self, sha256: str) -> ListFile | None:
        row = self.db.execute("SELECT sha256, name, data FROM household_files"
                              " WHERE sha256 = ?", (sha256,)).fetchone()
        return ListFile(row["sha256"], row["name"], bytes(row["data"])) if row else None


def _household(row: sqlite3.Row) -> Household:
    return Household(
        id=HouseholdId(row["building"], row["room"]),
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        under_observation=bool(row["under_observation"]),
    )


# A withdrawn parcel's label ends so: "DS1:24-2304:SF1:MAC#undone-17" (Parcels.release_label).
UNDONE_MARK = "#undone-"
_PARCEL_COLUMNS = ("id, label, ref, household_id, slot_code, status, pickup_code_id, kind,"
                   " room_confirmed, fresh, checked_in_at")


def _parcel(row: sqlite3.Row) -> ParcelRecord:
    return ParcelRecord(row["id"], row["label"], row["ref"], row["household_id"],
                        row["slot_code"], ParcelStatus(row["status"]), row["pickup_code_id"],
                        ParcelKind(row["kind"]), bool(row["room_confirmed"]),
                        bool(row["fresh"]), datetime.fromisoformat(row["checked_in_at"]))


class Parcels:
    def __init__(self, db: _Db) -> None:
        self.db = db

    def by_label(self, label: str) -> ParcelRecord | None:
        row = self.db.execute(f"SELECT {_PARCEL_COLUMNS} FROM parcels WHERE label = ?",
                                (label,)).fetchone()
        return _parcel(row) if row else None

    def add(self, label: str, ref: str, household: str, slot: str, code_id: int | None,
            now: datetime, *, kind: ParcelKind = ParcelKind.SHELF, symbology: str | None = None,
            room_confirmed: bool = True, fresh: bool = False) -> int:
        cur = self.db.execute(
            """INSERT INTO parcels (label, ref, household_id, slot_code, status,
                                    pickup_code_id, checked_in_at, kind, symbology,
                                    room_confirmed, fresh)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (label, ref, household, slot, ParcelStatus.WAITING, code_id, iso(now), kind,
             symbology, int(room_confirmed), int(fresh)),
        )
        return int(cur.lastrowid)

    def waiting_for(self, household: str) -> list[ParcelRecord]:
        rows = self.db.execute(
            f"SELECT {_PARCEL_COLUMNS} FROM parcels"
            " WHERE household_id = ? AND status = 'waiting' ORDER BY id", (household,)).fetchall()
        return [_parcel(r) for r in rows]

    def close(self, parcel_id: int, now: datetime) -> None:
        self.db.execute("UPDATE parcels SET status = ?, closed_at = ? WHERE id = ?",
                          (ParcelStatus.COLLECTED, iso(now), parcel_id))

    def load(self) -> dict[str, SlotLoad]:
        """How full each slot is now, from the waiting parcels."""
        rows = self.db.execute(
            "SELECT slot_code, COUNT(*) AS n, GROUP_CONCAT(DISTINCT household_id) AS hh"
            " FROM parcels WHERE status = 'waiting' GROUP BY slot_code").fetchall()
        return {r["slot_code"]: SlotLoad(r["n"], frozenset(r["hh"].split(","))) for r in rows}

    def get(self, parcel_id: int) -> ParcelRecord | None:
        row = self.db.execute(f"SELECT {_PARCEL_COLUMNS} FROM parcels WHERE id = ?",
                              (parcel_id,)).fetchone()
        return _parcel(row) if row else None

    def move(self, parcel_id: int, slot: str) -> None:
        """Put a waiting parcel in another slot (a staff member carried it there)."""
        self.db.execute("UPDATE parcels SET slot_code = ? WHERE id = ? AND status = 'waiting'",
                        (slot, parcel_id))

    def end(self, parcel_id: int, status: ParcelStatus, now: datetime) -> None:
        """Take a waiting parcel off the shelf as ``status`` (returned, withdrawn, collected)."""
        self.db.execute("UPDATE parcels SET status = ?, closed_at = ? WHERE id = ?"
                        " AND status = 'waiting'", (status, iso(now), parcel_id))

    def release_label(self, parcel_id: int) -> None:
        """Free a withdrawn parcel's label for a new check-in (it keeps it with a suffix).

        The scanned label is unique among parcels; a check-in undone must not block the same
        label (or waybill) from checking in again, rightly this time.
        """
        self.db.execute("UPDATE parcels SET label = label || ? WHERE id = ?"
                        " AND status = 'withdrawn'", (f"{UNDONE_MARK}{parcel_id}", parcel_id))

    def confirm_room(self, parcel_id: int) -> None:
        self.db.execute("UPDATE parcels SET room_confirmed = 1 WHERE id = ?", (parcel_id,))

    def mark_fresh(self, parcel_id: int) -> None:
        self.db.execute("UPDATE parcels SET fresh = 1 WHERE id = ?", (parcel_id,))


def _pickup_code(row: sqlite3.Row) -> PickupCode:
    used, revoked = row["used_at"], row["revoked_at"]
    return PickupCode(row["id"], row["household_id"], row["code"],
                      datetime.fromisoformat(row["created_at"]),
                      datetime.fromisoformat(used) if used else None,
                      datetime.fromisoformat(revoked) if revoked else None,
                      row["revoked_reason"])


class PickupCodes:
    def __init__(self, db: _Db) -> None:
        self.db = db

    def active_for(self, household: str) -> PickupCode | None:
        row = self.db.execute(
            "SELECT * FROM pickup_codes WHERE household_id = ? AND used_at IS NULL"
            " ORDER BY id DESC LIMIT 1", (household,)).fetchone()
        return _pickup_code(row) if row else None

    def get(self, code_id: int) -> PickupCode | None:
        row = self.db.execute("SELECT * FROM pickup_codes WHERE id = ?", (code_id,)).fetchone()
        return _pickup_code(row) if row else None

    def with_code(self, code: str, limit: int = 2) -> list[PickupCode]:
        """The newest rows (at most ``limit``) that ever held ``code``, active or used."""
        rows = self.db.execute("SELECT * FROM pickup_codes WHERE code = ? ORDER BY id DESC"
                               " LIMIT ?", (code, limit)).fetchall()
        return [_pickup_code(r) for r in rows]

    def used_since(self, code: str, since: datetime) -> bool:
        """True when ``code`` opened someone's parcels at or after ``since``."""
        row = self.db.execute("SELECT 1 FROM pickup_codes WHERE code = ? AND used_at >= ?"
                              " LIMIT 1", (code, iso(since))).fetchone()
        return row is not None

    def find_active(self, code: str) -> PickupCode | None:
        row = self.db.execute(
            "SELECT * FROM pickup_codes WHERE code = ? AND used_at IS NULL", (code,)).fetchone()
        return _pickup_code(row) if row else None

    def active_count(self) -> int:
        """How many codes are active: what a code typed alone is checked against."""
        # COUNT(household_id), not COUNT(*): counted in the partial index of the active codes
        # (pickup_codes_household, migration 2), not in pickup_codes_by_code's every code ever.
        return self.db.execute(
            "SELECT COUNT(household_id) FROM pickup_codes WHERE used_at IS NULL").fetchone()[0]

    def add(self, household: str, code: str, now: datetime) -> PickupCode | None:
        """Store a new active code; None when that code is already active for someone."""
        try:
            cur = self.db.execute(
                "INSERT INTO pickup_codes (household_id, code, created_at) VALUES (?, ?, ?)",
                (household, code, iso(now)))
        except sqlite3.IntegrityError:
            return None
        return PickupCode(int(cur.lastrowid), household, code, now)

    def use(self, code_id: int, now: datetime) -> None:
        self.db.execute("UPDATE pickup_codes SET used_at = ? WHERE id = ?", (iso(now), code_id))

    def revoke(self, code_id: int, now: datetime, reason: str | None = None) -> None:
        """Withdraw an active code: it opens nothing any more (and is not drawn again soon).

        ``reason`` None: its household went under observation; else a staff action's.
        """
        self.db.execute("UPDATE pickup_codes SET used_at = ?, revoked_at = ?, revoked_reason = ?"
                        " WHERE id = ? AND used_at IS NULL", (iso(now), iso(now), reason, code_id))


class Events:
    MAX_TEXT = 500  # characters kept of any one text in an event's details

    def __init__(self, db: _Db, stills: Stills | None = None) -> None:
        self.db = db
        self.stills = stills

    def add(self, kind: str, actor: str, now: datetime, *, parcel: int | None = None,
            household: str | None = None, slot: str | None = None, **detail: Any) -> None:
        """Append an event; texts are capped, since events are kept for good."""
        kept = {k: v[:self.MAX_TEXT] if isinstance(v, str) else v for k, v in detail.items()}
        cur = self.db.execute(
            """INSERT INTO events (at, kind, actor, parcel_id, household_id, slot_code, detail)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (iso(now), kind, actor[:self.MAX_TEXT], parcel, household, slot,
             json.dumps(kept, ensure_ascii=False, sort_keys=True)),
        )
        if self.stills is not None:
            self.stills.link(int(cur.lastrowid), now)

    def camera_lost(self) -> bool:
        """True when the newest camera event is ``camera_lost`` (through its partial index)."""
        row = self.db.execute(
            """SELECT kind FROM events WHERE kind IN ('camera_lost', 'camera_back')
               ORDER BY id DESC LIMIT 1""").fetchone()
        return row is not None and row["kind"] == "camera_lost"


class Stills:
    """The camera's still of a scan, kept with the events the scan recorded (migration 7).

    The scanner encodes the frame before acting and holds it here (``attached``) while the use
    case runs: the first event recorded stores the JPEG and each event links to it, inside the
    use case's own transaction. A kill -9 therefore leaves an event with its still, or
    neither; a refusal recorded after the use case rolled back stores the still again, with it.
    """

    def __init__(self, db: _Db) -> None:
        self.db = db
        self._jpeg: bytes | None = None
        self._row: int | None = None  # the still stored in the current transaction

    @contextmanager
    def attached(self, jpeg: bytes | None) -> Iterator[None]:
        """Within: every event recorded gets ``jpeg`` as its still (None: no still)."""
        self._jpeg, self._row = jpeg, None
        try:
            yield
        finally:
            self._jpeg, self._row = None, None

    def begin(self) -> None:
        """A new transaction: a still stored by one that rolled back is gone."""
        self._row = None

    def link(self, event_id: int, now: datetime) -> None:
        """Give the event just recorded the attached still (stored once per transaction)."""
        if not self._jpeg:
            return
        if self._row is None:
            cur = self.db.execute("INSERT INTO stills (taken_at, jpeg) VALUES (?, ?)",
                                  (iso(now), self._jpeg))
            self._row = int(cur.lastrowid)
        self.db.execute("INSERT INTO event_stills (event_id, still_id) VALUES (?, ?)",
                        (event_id, self._row))

    def prune(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete the pictures of at most ``limit`` stills taken before ``before``.

        The row stays (without its JPEG), so a page can say the still was deleted. Oldest
        first, through the index of kept stills: a batch costs the same however many were
        deleted before.
        """
        cur = self.db.execute(
            "UPDATE stills SET jpeg = NULL, deleted_at = ? WHERE id IN (SELECT id FROM stills"
            " WHERE jpeg IS NOT NULL AND taken_at < ? ORDER BY taken_at LIMIT ?)",
            (iso(now), iso(before), limit))
        return cur.rowcount


def _announcement(row: sqlite3.Row) -> Announcement:
    used = row["used_at"]
    return Announcement(row["code"], row["household_id"], row["announced_by"],
                        datetime.fromisoformat(row["announced_at"]),
                        datetime.fromisoformat(used) if used else None, row["parcel_id"],
                        bool(row["fresh"]))


class Expected:
    """Parcels announced by their tracking number: such a code checks in at once."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def get(self, code: str) -> Announcement | None:
        row = self.db.execute("SELECT * FROM expected WHERE code = ?", (code,)).fetchone()
        return _announcement(row) if row else None

    def add(self, announcement: Announcement) -> None:
        a = announcement
        self.db.execute(
            "INSERT INTO expected (code, household_id, announced_by, announced_at, used_at,"
            " parcel_id, fresh) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (a.code, a.household_id, a.announced_by, iso(a.announced_at),
             a.used_at and iso(a.used_at), a.parcel_id, int(a.fresh)))

    def mark_fresh(self, code: str) -> None:
        self.db.execute("UPDATE expected SET fresh = 1 WHERE code = ?", (code,))

    def use(self, code: str, parcel_id: int, now: datetime) -> None:
        self.db.execute("UPDATE expected SET used_at = ?, parcel_id = ? WHERE code = ?",
                        (iso(now), parcel_id, code))


class Outbox:
    """The notices to send. A row names the contact being tried (``channel``, ``recipient``)
    and the chain it belongs to; a worker claims a row (``claimed_by`` until ``lease_until``)
    before it sends, and only the claimant records the outcome of a failed attempt."""

    COLUMNS = ("id, kind, channel, recipient, household_id, parcel_id, payload, attempts,"
               " contacts, contact_index, contact_attempts")

    def __init__(self, db: _Db) -> None:
        self.db = db

    def add(self, kind: str, channel: str, recipient: str, payload: Mapping[str, Any],
            now: datetime, *, household: str | None = None, parcel: int | None = None,
            contacts: Sequence[tuple[str, str]] = ()) -> int:
        """Queue a notice to ``recipient`` on ``channel``, the first of ``contacts`` if given."""
        chain = [list(c) for c in contacts] or [[channel, recipient]]
        cur = self.db.execute(
            """INSERT INTO outbox (created_at, kind, channel, recipient, household_id,
                                   parcel_id, payload, next_attempt_at, contacts)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (iso(now), kind, channel, recipient, household, parcel,
             json.dumps(dict(payload), ensure_ascii=False, sort_keys=True), iso(now),
             json.dumps(chain, ensure_ascii=False)),
        )
        return int(cur.lastrowid)

    def due(self, now: datetime, limit: int = 20) -> list[QueuedNotice]:
        rows = self.db.execute(
            f"SELECT {self.COLUMNS} FROM outbox WHERE status = 'pending'"
            " AND next_attempt_at <= ? ORDER BY id LIMIT ?", (iso(now), limit)).fetchall()
        return [QueuedNotice(**dict(r)) for r in rows]

    def claim(self, now: datetime, worker: str, lease_until: datetime, *,
              skip_channels: Iterable[str] = (), skip_ids: Iterable[int] = ()
              ) -> QueuedNotice | None:
        """Claim the longest-due notice no live lease holds (in the caller's transaction).

        Rows of ``skip_channels`` and ``skip_ids`` are left for later. In the order of the
        ``outbox_due`` index (due time, then id): the first row that qualifies ends the walk,
        where ordering by id alone sorted every due row on each claim (a backlog's cost).
        """
        channels, ids = list(skip_channels), list(skip_ids)
        row = self.db.execute(
            f"""UPDATE outbox SET claimed_by = ?, lease_until = ?
                WHERE id = (SELECT id FROM outbox WHERE status = 'pending'
                            AND next_attempt_at <= ?
                            AND (lease_until IS NULL OR lease_until <= ?)
                            AND channel NOT IN ({",".join("?" * len(channels))})
                            AND id NOT IN ({",".join("?" * len(ids))})
                            ORDER BY next_attempt_at, id LIMIT 1)
                RETURNING {self.COLUMNS}""",
            (worker, iso(lease_until), iso(now), iso(now), *channels, *ids)).fetchone()
        return QueuedNotice(**dict(row)) if row else None

    def mark_sent(self, notice_id: int, now: datetime) -> None:
        """Record a delivery, whoever holds the claim now: the notice went out."""
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " contact_attempts = contact_attempts + 1, last_error = NULL, claimed_by = NULL,"
            " lease_until = NULL WHERE id = ?", (iso(now), notice_id))

    def mark_failed(self, notice_id: int, error: str, retry_at: datetime | None, *,
                    worker: str | None = None) -> bool:
        """Record a failed attempt; retry at ``retry_at``, or give up when it is None.

        With ``worker``, only while that worker holds the claim (a slower worker whose lease
        ran out must not undo what another did since); whether the row was changed.
        """
        cur = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, contact_attempts = contact_attempts + 1,"
            " last_error = ?, status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END,"
            " next_attempt_at = COALESCE(?, next_attempt_at), claimed_by = NULL,"
            " lease_until = NULL WHERE id = ? AND status = 'pending'"
            " AND (? IS NULL OR claimed_by = ?)",
            (error[:500], retry_at and iso(retry_at), retry_at and iso(retry_at), notice_id,
             worker, worker))
        return cur.rowcount == 1

    def postpone(self, notice_id: int, until: datetime, worker: str) -> bool:
        """Give a claimed notice back unsent, due at ``until``, no attempt counted (quiet
        hours); only while ``worker`` holds the claim. Whether the row was changed."""
        cur = self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, claimed_by = NULL, lease_until = NULL"
            " WHERE id = ? AND status = 'pending' AND claimed_by = ?",
            (iso(until), notice_id, worker))
        return cur.rowcount == 1

    def fall_back(self, notice_id: int, error: str, now: datetime, *,
                  worker: str | None = None) -> bool:
        """Count a failed attempt and move on to the next contact of the chain, due now.

        With ``worker``, only while that worker holds the claim; whether the row was changed.
        """
        cur = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " contact_index = contact_index + 1, contact_attempts = 0,"
            " channel = json_extract(contacts, '$[' || (contact_index + 1) || '][0]'),"
            " recipient = json_extract(contacts, '$[' || (contact_index + 1) || '][1]'),"
            " next_attempt_at = ?, claimed_by = NULL, lease_until = NULL"
            " WHERE id = ? AND status = 'pending' AND contact_index + 1 < json_array_length("
            "contacts) AND (? IS NULL OR claimed_by = ?)",
            (error[:500], iso(now), notice_id, worker, worker))
        return cur.rowcount == 1

    def failed(self, ids: Iterable[int] | None = None) -> list[QueuedNotice]:
        """Notices that gave up: all of them, or those among ``ids``."""
        sql = f"SELECT {self.COLUMNS} FROM outbox WHERE status = 'failed'"
        if ids is None:
            return [QueuedNotice(**dict(r)) for r in self.db.execute(sql + " ORDER BY id")]
        wanted = list(dict.fromkeys(ids))
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(f"{sql} AND id IN ({marks}) ORDER BY id", wanted)
        return [QueuedNotice(**dict(r)) for r in rows]

    def status(self, notice_id: int) -> str | None:
        """'pending', 'sent' or 'failed'; None when there is no such notice."""
        row = self.db.execute("SELECT status FROM outbox WHERE id = ?", (notice_id,)).fetchone()
        return row["status"] if row else None

    def requeue(self, notice_id: int, now: datetime) -> None:
        """Make a failed notice pending again, due now, from the first contact of its chain,
        with its attempts counted from zero."""
        self.db.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, last_error = NULL,"
            " contact_index = 0, contact_attempts = 0,"
            " channel = COALESCE(json_extract(contacts, '$[0][0]'), channel),"
            " recipient = COALESCE(json_extract(contacts, '$[0][1]'), recipient),"
            " claimed_by = NULL, lease_until = NULL,"
            " next_attempt_at = ? WHERE id = ? AND status = 'failed'", (iso(now), notice_id))


class Signals:
    """Which slot LEDs should be lit and until when: the lights are a projection of this.

    A slot has two layers (migration 10): the gate's (``on``, ``blink``: the latest replaces
    the one before) and the staff's (``collect``); the gate's shows while it lasts.
    """

    def __init__(self, db: _Db) -> None:
        self.db = db

    def set(self, slot: str, mode: LightMode, until: datetime, reason: str) -> None:
        self.db.execute(
            """INSERT INTO signals (slot_code, layer, mode, until, reason) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (slot_code, layer) DO UPDATE SET mode = excluded.mode,
                   until = excluded.until, reason = excluded.reason""",
            (slot, signal_layer(mode), mode, iso(until), reason))

    def active(self, now: datetime) -> dict[str, LightMode]:
        """Slot code -> 'on', 'blink' or 'collect' for every slot that should be lit at ``now``."""
        rows = self.db.execute(
            "SELECT slot_code, mode FROM signals WHERE until > ? ORDER BY layer = 'gate'",
            (iso(now),)).fetchall()
        return {r["slot_code"]: r["mode"] for r in rows}  # the gate's rows last: they win


def signal_layer(mode: LightMode) -> str:
    """The layer of a light mode: a team's ``collect`` is the staff's, the rest the gate's."""
    return "staff" if mode == "collect" else "gate"


class Attempts:
    """Tries at something guessable (a pickup code, a password), for throttling."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def add(self, source: str, ok: bool, now: datetime) -> None:
        self.db.execute("INSERT INTO attempts (at, source, ok) VALUES (?, ?, ?)",
                          (iso(now), source, int(ok)))

    def wait_needed(self, source: str, max_failures: int, window: timedelta,
                    now: datetime) -> int:
        """Seconds ``source`` must wait before trying again (0: it may try now).

        A source that failed ``max_failures`` times within ``window`` waits until the oldest
        of those failures leaves the window.
        """
        rows = self.db.execute(
            "SELECT at FROM attempts WHERE source = ? AND ok = 0 AND at >= ? ORDER BY at",
            (source, iso(now - window))).fetchall()
        if len(rows) < max_failures:
            return 0
        oldest = datetime.fromisoformat(rows[-max_failures]["at"])
        return max(1, math.ceil((oldest + window - now).total_seconds()))

    def failures(self, source: str, since: datetime, limit: int) -> list[datetime]:
        """When ``source`` failed at or after ``since``: the newest ``limit``, newest first."""
        rows = self.db.execute(
            "SELECT at FROM attempts WHERE source = ? AND ok = 0 AND at >= ?"
            " ORDER BY at DESC LIMIT ?", (source, iso(since), limit)).fetchall()
        return [datetime.fromisoformat(r["at"]) for r in rows]

    def prune(self, prefix: str, before: datetime) -> int:
        """Forget the attempts of sources starting with ``prefix`` made before ``before``."""
        # A range of sources on the (source, at) index: only this prefix's rows are read,
        # however many other attempts (or years of them) the table holds.
        after_prefix = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        cur = self.db.execute(
            "DELETE FROM attempts WHERE source >= ? AND source < ? AND at < ?",
            (prefix, after_prefix, iso(before)))
        return cur.rowcount


class Slots:
    def __init__(self, db: _Db) -> None:
        self.db = db

    def sync(self, slots: Iterable[Slot]) -> None:
        """Mirror the configured slots (and overflow) so reads can join on them."""
        codes = []
        for slot in slots:
            codes.append(slot.code)
            self.db.execute(
                """INSERT INTO slots (code, shelf, position, capacity, buildings, overflow, active)
                   VALUES (?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (code) DO UPDATE SET shelf = excluded.shelf,
                       position = excluded.position, capacity = excluded.capacity,
                       buildings = excluded.buildings, overflow = excluded.overflow, active = 1""",
                (slot.code, slot.shelf, slot.position, slot.capacity,
                 format_buildings(slot.buildings), int(slot.overflow)))
        marks = ",".join("?" * len(codes))
        self.db.execute(f"UPDATE slots SET active = 0 WHERE code NOT IN ({marks})", codes)


@dataclass(frozen=True)
class StaffSession:
    """One staff sign-in, as the store keeps it (``key`` is a hash of the cookie's token)."""

    key: str
    username: str
    credential: str
    created_at: datetime
    last_seen: datetime
    ended_at: datetime | None


class Sessions:
    """Staff sign-in sessions: a cookie signs someone in only while its row is live."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def add(self, key: str, username: str, credential: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO sessions (id, username, credential, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?)", (key, username, credential, iso(now), iso(now)))

    def get(self, key: str) -> StaffSession | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (key,)).fetchone()
        if row is None:
            return None
        ended = row["ended_at"]
        return StaffSession(row["id"], row["username"], row["credential"],
                            datetime.fromisoformat(row["created_at"]),
                            datetime.fromisoformat(row["last_seen"]),
                            datetime.fromisoformat(ended) if ended else None)

    def touch(self, key: str, now: datetime) -> None:
        self.db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (iso(now), key))

    def end(self, key: str, now: datetime) -> None:
        self.db.execute("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                        (iso(now), key))

    def end_for(self, username: str, now: datetime) -> int:
        """End every live session of ``username`` (a disable, a password reset)."""
        return self.db.execute(
            "UPDATE sessions SET ended_at = ? WHERE username = ? COLLATE NOCASE"
            " AND ended_at IS NULL", (iso(now), username)).rowcount

    def prune(self, created_before: datetime, seen_before: datetime) -> int:
        """Delete the sessions that can no longer sign anyone in."""
        cur = self.db.execute(
            "DELETE FROM sessions WHERE ended_at IS NOT NULL OR created_at < ? OR last_seen < ?",
            (iso(created_before), iso(seen_before)))
        return cur.rowcount


@dataclass(frozen=True)
class Lockout:
    """Sign-ins refused to ``username`` (None: every username) from ``client`` until ``until``."""

    at: datetime
    until: datetime
    username: str | None
    client: str


class Lockouts:
    """The record of sign-in lockouts, for admins to see who is being kept out."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def add(self, username: str | None, client: str, now: datetime,
            until: datetime) -> None:
        self.db.execute("INSERT INTO lockouts (at, until, username, client) VALUES (?, ?, ?, ?)",
                        (iso(now), iso(until), username, client))

    def active(self, username: str | None, client: str, now: datetime) -> bool:
        return self.db.execute(
            "SELECT 1 FROM lockouts WHERE client = ? AND username IS ? AND until > ?",
            (client, username, iso(now))).fetchone() is not None

    def since(self, moment: datetime, limit: int = 100) -> list[Lockout]:
        """The latest lockouts from ``moment`` on, newest first."""
        rows = self.db.execute(
            "SELECT at, until, username, client FROM lockouts WHERE at >= ?"
            " ORDER BY at DESC, id DESC LIMIT ?", (iso(moment), limit)).fetchall()
        return [Lockout(datetime.fromisoformat(r["at"]), datetime.fromisoformat(r["until"]),
                        r["username"], r["client"]) for r in rows]

    def prune(self, before: datetime) -> int:
        return self.db.execute("DELETE FROM lockouts WHERE at < ?", (iso(before),)).rowcount


@contextmanager
def without_waiting_for_the_disk(conn: sqlite3.Connection) -> Iterator[None]:
    """Commit the transactions inside without an fsync each (WAL, ``synchronous=NORMAL``).

    For bookkeeping a power cut may lose the last seconds of (sign-in attempts): the commit
    holds the write lock for a fraction of a millisecond instead of an fsync (tens of ms on an
    SD card), so a flood of such writes cannot stall the kiosk. The file stays consistent, and
    a later ``FULL`` commit makes these durable with it.
    """
    with translated_errors():
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        with translated_errors():
            conn.execute("PRAGMA synchronous = FULL")


def _applied_list(row: sqlite3.Row) -> AppliedList:
    return AppliedList(
        id=row["id"], applied_at=datetime.fromisoformat(row["applied_at"]), actor=row["actor"],
        list_date=date.fromisoformat(row["list_date"]), source=row["source"],
        file_name=row["file_name"], sha256=row["sha256"], format=row["format"],
        added=row["added"], released=row["released"], unchanged=row["unchanged"],
        unknown=row["unknown"], problems=row["problems"])


class ObservationRegister:
    """The day's observation lists: their files as received, and each list applied."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def keep_file(self, sha256: str, name: str, data: bytes, now: datetime, actor: str) -> None:
        """Keep a list's bytes under their hash (once: the same bytes are the same list)."""
        self.db.execute(
            "INSERT INTO observation_files (sha256, name, data, stored_at, stored_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, name, data, iso(now), actor))

    def file(self, sha256: str) -> ListFile | None:
        row = self.db.execute("SELECT sha256, name, data FROM observation_files"
                              " WHERE sha256 = ?", (sha256,)).fetchone()
        return ListFile(row["sha256"], row["name"], bytes(row["data"])) if row else None

    def add(self, entry: AppliedList) -> int:
        """Record a list as applied; return its id in the register (``entry.id`` is ignored)."""
        e = entry
        cur = self.db.execute(
            """INSERT INTO observation_lists (applied_at, actor, list_date, source, file_name,
                   sha256, format, added, released, unchanged, unknown, problems)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (iso(e.applied_at), e.actor, e.list_date.isoformat(), e.source, e.file_name,
             e.sha256, e.format, e.added, e.released, e.unchanged, e.unknown, e.problems))
        return int(cur.lastrowid)

    def last_applied(self, sha256: str, list_date: date, source: str) -> AppliedList | None:
        """The latest time these bytes were applied as this day's list from this source."""
        row = self.db.execute(
            "SELECT * FROM observation_lists WHERE sha256 = ? AND list_date = ? AND source = ?"
            " ORDER BY id DESC LIMIT 1", (sha256, list_date.isoformat(), source)).fetchone()
        return _applied_list(row) if row else None


def _door_task(row: sqlite3.Row) -> DoorTask:
    def moment(key: str) -> datetime | None:
        return datetime.fromisoformat(row[key]) if row[key] else None

    return DoorTask(row["id"], row["household_id"], row["team"], TaskStatus(row["status"]),
                    datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["assigned_at"]), moment("fresh_since"),
                    row["escalations"], moment("closed_at"), row["closed_by"],
                    row["closed_reason"], moment("told_at"))


class DoorTasks:
    """Door tasks: a household's waiting parcels to carry to its door (``kiosk.tasks``)."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def get(self, task_id: int) -> DoorTask | None:
        row = self.db.execute("SELECT * FROM door_tasks WHERE id = ?", (task_id,)).fetchone()
        return _door_task(row) if row else None

    def open_for(self, household: str) -> DoorTask | None:
        """The household's open task, if it has one (it never has two)."""
        row = self.db.execute("SELECT * FROM door_tasks WHERE household_id = ?"
                              " AND status = 'open'", (household,)).fetchone()
        return _door_task(row) if row else None

    def open(self) -> list[DoorTask]:
        """Every open task, oldest first (through the open tasks' index)."""
        rows = self.db.execute("SELECT * FROM door_tasks WHERE status = 'open' ORDER BY id")
        return [_door_task(r) for r in rows]

    def add(self, household: str, team: str, now: datetime, *, fresh: bool = False) -> int:
        cur = self.db.execute(
            "INSERT INTO door_tasks (household_id, team, created_at, assigned_at, fresh_since)"
            " VALUES (?, ?, ?, ?, ?)",
            (household, team, iso(now), iso(now), iso(now) if fresh else None))
        return int(cur.lastrowid)

    def link(self, task_id: int, parcel_id: int) -> None:
        self.db.execute("INSERT INTO door_task_parcels (task_id, parcel_id) VALUES (?, ?)",
                        (task_id, parcel_id))

    def parcels(self, task_id: int) -> list[ParcelRecord]:
        """The task's parcels, oldest first, whatever their status."""
        rows = self.db.execute(
            "SELECT p.* FROM door_task_parcels t JOIN parcels p ON p.id = t.parcel_id"
            " WHERE t.task_id = ? ORDER BY p.id", (task_id,)).fetchall()
        return [_parcel(r) for r in rows]

    def assign(self, task_id: int, team: str, now: datetime) -> None:
        self.db.execute("UPDATE door_tasks SET team = ?, assigned_at = ? WHERE id = ?",
                        (team, iso(now), task_id))

    def mark_fresh(self, task_id: int, now: datetime) -> None:
        """Fresh from ``now`` on (a task fresh already keeps its first time)."""
        self.db.execute("UPDATE door_tasks SET fresh_since = COALESCE(fresh_since, ?)"
                        " WHERE id = ?", (iso(now), task_id))

    def escalate(self, task_id: int, level: int) -> None:
        self.db.execute("UPDATE door_tasks SET escalations = ? WHERE id = ?", (level, task_id))

    def untold(self) -> list[DoorTask]:
        """Open tasks no team has been told of yet, oldest first."""
        rows = self.db.execute("SELECT * FROM door_tasks WHERE status = 'open'"
                               " AND told_at IS NULL ORDER BY id")
        return [_door_task(r) for r in rows]

    def mark_told(self, task_ids: Iterable[int], now: datetime) -> None:
        """Told from ``now`` on (a task told already keeps its first time)."""
        for task_id in task_ids:
            self.db.execute("UPDATE door_tasks SET told_at = COALESCE(told_at, ?) WHERE id = ?",
                            (iso(now), task_id))

    def close(self, task_id: int, status: TaskStatus, now: datetime, actor: str,
              reason: str | None = None) -> None:
        self.db.execute(
            "UPDATE door_tasks SET status = ?, closed_at = ?, closed_by = ?, closed_reason = ?"
            " WHERE id = ? AND status = 'open'", (status, iso(now), actor[:200], reason, task_id))


def _staff_member(row: sqlite3.Row) -> StaffMember:
    return StaffMember(row["username"], row["name"], row["role"], row["team"],
                       row["password_hash"], row["credential"], bool(row["disabled"]),
                       datetime.fromisoformat(row["created_at"]),
                       datetime.fromisoformat(row["updated_at"]))


class StaffAccounts:
    """Staff accounts (``kiosk.staff`` changes them, each change with its event)."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def get(self, username: str) -> StaffMember | None:
        row = self.db.execute("SELECT * FROM staff WHERE username = ?", (username,)).fetchone()
        return _staff_member(row) if row else None

    def all(self) -> list[StaffMember]:
        rows = self.db.execute("SELECT * FROM staff ORDER BY username").fetchall()
        return [_staff_member(row) for row in rows]

    def add(self, member: StaffMember) -> None:
        self.db.execute(
            "INSERT INTO staff (username, name, role, team, password_hash, credential, disabled,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (member.username, member.name, member.role, member.team, member.password_hash,
             member.credential, int(member.disabled), iso(member.created_at),
             iso(member.updated_at)))

    def update(self, member: StaffMember) -> None:
        self.db.execute(
            "UPDATE staff SET name = ?, role = ?, team = ?, password_hash = ?, credential = ?,"
            " disabled = ?, updated_at = ? WHERE username = ?",
            (member.name, member.role, member.team, member.password_hash, member.credential,
             int(member.disabled), iso(member.updated_at), member.username))

    def enabled_admins(self) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM staff WHERE role = 'admin' AND disabled = 0").fetchone()[0]


def record_heartbeat(conn: sqlite3.Connection, beat_at: datetime,
                     last_frame_at: datetime | None) -> None:
    """Say that the kiosk loop is alive (and when it last read a frame), without an fsync.

    A beat lost to a power cut is written again seconds later; it must never make a check-in
    wait behind the SD card.
    """
    with without_waiting_for_the_disk(conn), translated_errors():
        conn.execute(
            "INSERT INTO kiosk_heartbeat (id, beat_at, last_frame_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at,"
            " last_frame_at = excluded.last_frame_at",
            (iso(beat_at), last_frame_at and iso(last_frame_at)))


def close_store(conn: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the database file and close; False if it could not copy.

    A clean stop then leaves the database in one file. Another process still reading (the
    staff site) keeps part of the log; SQLite copies what it can, and the rest later.
    """
    try:
        with translated_errors():
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return not busy
    except StoreUnavailable:
        return False
    finally:
        conn.close()


class Reminders:
    """What was said about parcels still waiting (``kiosk.notices.reminders``)."""

    def __init__(self, db: _Db) -> None:
        self.db = db

    def waiting_since(self, before: datetime) -> list[ParcelRecord]:
        rows = self.db.execute(
            f"SELECT {_PARCEL_COLUMNS} FROM parcels WHERE status = 'waiting'"
            " AND checked_in_at <= ? ORDER BY id", (iso(before),)).fetchall()
        return [_parcel(r) for r in rows]

    def said(self, parcels: Iterable[int]) -> set[tuple[int, str]]:
        wanted = list(dict.fromkeys(parcels))
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            f"SELECT parcel_id, round FROM reminders WHERE parcel_id IN ({marks})", wanted)
        return {(r["parcel_id"], r["round"]) for r in rows}

    def add(self, parcel: int, round: str, household: str, now: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO reminders (parcel_id, round, household_id, at)"
                        " VALUES (?, ?, ?, ?)", (parcel, round, household, iso(now)))


def integrity_problems(path: str | Path, *, quick: bool = True,
                       shelf_only: bool = True) -> list[str]:
    """What ``PRAGMA quick_check`` (or the slower ``integrity_check``) finds wrong in the
    file at ``path``: [] for a sound database. Opened read-only; never creates a file.

    A missing or empty file, one SQLite finds damaged or not a database at all, and (with
    ``shelf_only``) an SQLite file not marked as the shelf's, is one problem. What keeps the
    check from running at all (permissions, a full disk, a lock) is StoreUnavailable, not
    damage.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path} does not exist"]
    if path.stat().st_size == 0:
        return [f"{path} is empty"]
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            marked = conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            if shelf_only and not marked:
                return [f"{path} is not a shelf database"]
            rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
            problems = [" ".join(str(row[0]).split()) for row in rows.fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            return [f"{path}: {exc}"]  # a header or a root page SQLite cannot even walk
        raise _open_error(path, exc) from None
    return [] if problems == ["ok"] else problems


def copy_database(conn: sqlite3.Connection, target: Path) -> None:
    """Copy the open store into the new file ``target`` with SQLite's online backup.

    Other processes go on reading and writing meanwhile (WAL). The copy is one file on its
    own (rollback journal, no -wal beside it), so it can be carried away and opened anywhere.
    """
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        with translated_errors():
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()
