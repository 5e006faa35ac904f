"""The gate's journal for its centre (migration 22): what it owns, numbered, and its epochs.

Triggers write the journal in the very transaction of each change (``sync_journal``); this
module reads it for pushing, records what the centre acknowledged and which of the centre's
commands were applied, starts a new epoch: at every `shelf restore` (``new_epoch``), and
when the centre finds the store rewound (an SD card copied back: ``rewind_epoch``), and
prunes what the centre has held for long enough (``prune``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.store.db import translated_errors, without_waiting_for_the_disk
from kiosk.timefmt import iso

KINDS = ("parcels", "door_tasks", "door_task_parcels", "events")
# What a journal row of each kind carries (the triggers' json_object, as the columns are now),
# for the snapshot a gate sends when it joins: the key the rows are taken in, and the rows.
SNAPSHOT = {
    "parcels": ("id", """json_object(
        'id', id, 'origin', origin, 'label', label, 'ref', ref, 'household_id', household_id,
        'slot_code', slot_code, 'status', status, 'kind', kind, 'symbology', symbology,
        'room_confirmed', room_confirmed, 'fresh', fresh, 'checked_in_at', checked_in_at,
        'closed_at', closed_at) FROM parcels"""),
    "door_tasks": ("id", """json_object(
        'id', id, 'origin', origin, 'household_id', household_id, 'team', team,
        'status', status, 'created_at', created_at, 'assigned_at', assigned_at,
        'fresh_since', fresh_since, 'escalations', escalations, 'closed_at', closed_at,
        'closed_by', closed_by, 'closed_reason', closed_reason, 'told_at', told_at)
        FROM door_tasks"""),
    "door_task_parcels": ("l.rowid", """json_object(
        'task_id', l.task_id, 'task_origin', t.origin, 'parcel_id', l.parcel_id,
        'parcel_origin', p.origin) FROM door_task_parcels l
        JOIN door_tasks t ON t.id = l.task_id JOIN parcels p ON p.id = l.parcel_id"""),
    "events": ("e.id", """json_object(
        'id', e.id, 'at', e.at, 'kind', e.kind, 'actor', e.actor, 'parcel_id', e.parcel_id,
        'parcel_origin', p.origin, 'household_id', e.household_id, 'slot_code', e.slot_code,
        'detail', json(e.detail), 'task_origin', t.origin)
        FROM events e LEFT JOIN parcels p ON p.id = e.parcel_id
        LEFT JOIN door_tasks t ON t.id = json_extract(e.detail, '$.task')"""),
}
# Each table's last row when the gate joins: the snapshot's end (the triggers take the rest).
LAST_ROW = {"parcels": "SELECT max(id) FROM parcels",
            "door_tasks": "SELECT max(id) FROM door_tasks",
            "door_task_parcels": "SELECT max(rowid) FROM door_task_parcels",
            "events": "SELECT max(id) FROM events"}
JOIN_CHUNK = 2000  # rows journaled per transaction while joining: the kiosk waits one at most
NOW = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')"
PRUNE_CHUNK = 2000  # records deleted per transaction: the kiosk's writes wait one chunk at most


@dataclass(frozen=True)
class SyncState:
    """Where the gate stands with its centre (one row, ``sync_state``)."""

    epoch: str
    parent: str | None
    base: int
    journaling: bool
    acked: int
    commands: int
    holds: int  # the newest seq the journal ever gave (AUTOINCREMENT's counter)
    last_sync_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Record:
    """One journal row: what the gate pushes, keyed by (gate, epoch, seq)."""

    seq: int
    epoch: str
    at: str
    kind: str
    data: dict[str, Any]

    def as_json(self) -> list[Any]:
        return [self.seq, self.at, self.kind, self.data]


def new_epoch_id() -> str:
    return secrets.token_hex(16)


class Journal:
    """The gate's journal and sync state, on one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def state(self) -> SyncState:
        with translated_errors():
            row = self.conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone()
            holds = self.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'sync_journal'").fetchone()
        synced = row["last_sync_at"]
        return SyncState(row["epoch"], row["parent"], row["base"], bool(row["journaling"]),
                         row["acked"], row["commands"], holds[0] if holds else 0,
                         datetime.fromisoformat(synced) if synced else None, row["last_error"])

    def join(self, *, chunk: int = JOIN_CHUNK) -> int:
        """Start journaling (a gate joining its centre) and journal what the store holds
        first, as a snapshot, ``chunk`` rows per transaction: the kiosk's writes wait for one
        chunk at most, never for a long history. Returns the records written (0 when the gate
        had joined already).

        The first transaction turns the triggers on and notes each table's last row: rows
        after it are journaled by the triggers, rows up to it by the snapshot. A row changed
        meanwhile is journaled by its trigger as well, and since the centre applies records
        in their order (each a whole row), it ends with the newest state either way. Where the
        snapshot has got to is kept (``sync_state.joining``): a join cut short goes on there.
        """
        written = 0
        plan = self._joining()
        for kind, (after, last) in plan.items():
            key, rows = SNAPSHOT[kind]
            while after < last:
                with self._transaction():
                    upto = self._chunk_end(kind, after, last, chunk)
                    written += self.conn.execute(
                        "INSERT INTO sync_journal (epoch, at, kind, data) SELECT"
                        f" (SELECT epoch FROM sync_state), {NOW}, '{kind}', {rows}"
                        f" WHERE {key} > ? AND {key} <= ? ORDER BY {key}", (after, upto)
                    ).rowcount
                    plan[kind] = [upto, last]
                    self.conn.execute("UPDATE sync_state SET joining = ?", (json.dumps(plan),))
                after = upto
        if plan:
            with self._transaction():
                self.conn.execute("UPDATE sync_state SET joining = NULL")
        return written

    def _chunk_end(self, kind: str, after: int, last: int, chunk: int) -> int:
        """The key of the ``chunk``-th row of ``kind`` after ``after`` (``last`` at most).

        A chunk counts rows, not ids: ids are 64-bit, and a store whose ids jump (one far
        past the others) joins in as many transactions as it has rows, not ids.
        """
        end = self.conn.execute(
            f"SELECT max(k) FROM (SELECT rowid AS k FROM {kind} WHERE rowid > ? AND rowid <= ?"
            " ORDER BY rowid LIMIT ?)", (after, last, chunk)).fetchone()[0]
        return last if end is None else end

    def _joining(self) -> dict[str, list[int]]:
        """Turn journaling on, or find the join under way: each kind's [done up to, last];
        {} when the gate had joined."""
        with self._transaction():
            row = self.conn.execute("SELECT journaling, joining FROM sync_state").fetchone()
            if row["journaling"]:
                return json.loads(row["joining"]) if row["joining"] else {}
            plan = {kind: [0, self.conn.execute(sql).fetchone()[0] or 0]
                    for kind, sql in LAST_ROW.items()}
            self.conn.execute("UPDATE sync_state SET journaling = 1, joining = ?",
                              (json.dumps(plan),))
        return plan

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE), committed, or rolled back on any error."""
        with translated_errors():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def pending(self, limit: int) -> list[Record]:
        """The oldest records the centre has not acknowledged, all of one epoch, in order."""
        with translated_errors():
            rows = self.conn.execute(
                "SELECT seq, epoch, at, kind, data FROM sync_journal"
                " WHERE seq > (SELECT acked FROM sync_state) ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        batch = [Record(r["seq"], r["epoch"], r["at"], r["kind"], json.loads(r["data"]))
                 for r in rows]
        return [r for r in batch if r.epoch == batch[0].epoch] if batch else []

    def backlog(self) -> tuple[int, str | None]:
        """How many records wait for the centre, and when the oldest of them was written."""
        with translated_errors():
            row = self.conn.execute(
                "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM sync_journal"
                " WHERE seq > (SELECT acked FROM sync_state)").fetchone()
        return row["n"], row["oldest"]

    def acknowledge(self, through: int) -> None:
        """The centre holds the journal through ``through`` (lower: it lacks some; resend).

        Written without an fsync (``_bookkeeping``): an acknowledgement a power cut takes back
        only makes the gate send those records again, which the centre takes as the same
        (same key, same payload: nothing changes), while the kiosk's check-ins never queue
        behind the sync's writes to the SD card."""
        with self._bookkeeping():
            self.conn.execute("UPDATE sync_state SET acked = ?", (through,))

    def synced(self, now: datetime, error: str | None) -> None:
        """Remember the last exchange: answered (``error`` None) or why it failed."""
        with self._bookkeeping():
            if error is None:
                self.conn.execute("UPDATE sync_state SET last_sync_at = ?, last_error = NULL",
                                  (iso(now),))
            else:
                self.conn.execute("UPDATE sync_state SET last_error = ?", (error[:500],))

    @contextmanager
    def _bookkeeping(self) -> Iterator[None]:
        """The sync's own notes, committed without an fsync unless inside a caller's
        transaction (whose commit decides)."""
        if self.conn.in_transaction:
            with translated_errors():
                yield
            return
        with without_waiting_for_the_disk(self.conn), translated_errors():
            yield

    def commands_applied(self) -> int:
        with translated_errors():
            return self.conn.execute("SELECT commands FROM sync_state").fetchone()[0]

    def command_done(self, seq: int) -> None:
        """Record that the centre's command ``seq`` is applied (in the command's transaction)."""
        with translated_errors():
            self.conn.execute("UPDATE sync_state SET commands = ? WHERE commands < ?",
                              (seq, seq))

    def prune(self, before: datetime, *, chunk: int = PRUNE_CHUNK) -> int:
        """Delete the records the centre has acknowledged that were written before ``before``,
        a chunk per transaction; return how many.

        Kept: every record the centre has not acknowledged; the acknowledged ones younger
        than ``before`` (a centre restored from a backup asks for them again: `[centre]
        journal_days` must reach back further than its backups); and, of parcels and of door
        tasks, the record with the highest id among those it would delete, so that a store
        copied back still tells its older rows from those made since (``_made_since``).
        """
        acked, keep = self.state().acked, []  # what is pruned is decided once, here
        with translated_errors():
            for kind in ("parcels", "door_tasks"):
                row = self.conn.execute(
                    "SELECT seq FROM sync_journal WHERE seq <= ? AND at < ? AND kind = ?"
                    " ORDER BY json_extract(data, '$.id') DESC, seq DESC LIMIT 1",
                    (acked, iso(before), kind)).fetchone()
                keep += [row["seq"]] if row else []
        deleted = 0
        while True:
            with self._transaction():
                done = self.conn.execute(
                    "DELETE FROM sync_journal WHERE seq IN (SELECT seq FROM sync_journal"
                    " WHERE seq <= ? AND at < ? AND seq NOT IN (SELECT value FROM json_each(?))"
                    " ORDER BY seq LIMIT ?)", (acked, iso(before), json.dumps(keep), chunk)
                ).rowcount
            deleted += done
            if done < chunk:
                return deleted

    def first_missing(self) -> int | None:
        """The seq the centre needs next when this journal no longer holds it (pruned after
        the centre acknowledged it, and the centre then went back: restored from an older
        backup); None when the next record to send is there (or none waits)."""
        with translated_errors():
            row = self.conn.execute(
                "SELECT s.acked + 1 AS wanted, (SELECT min(seq) FROM sync_journal"
                " WHERE seq > s.acked) AS first FROM sync_state s").fetchone()
        return row["wanted"] if row["first"] is not None and row["first"] > row["wanted"] \
            else None

    def new_epoch(self) -> str:
        """Start a new epoch after the newest seq (`shelf restore`); return its id.

        What the store holds keeps its keys; what it writes from now on goes under the new
        epoch, so nothing it writes reuses a key the centre holds from the store's lost days.
        """
        epoch = new_epoch_id()
        with self._transaction():
            self.conn.execute(
                "UPDATE sync_state SET parent = epoch, epoch = ?, base = COALESCE("
                "(SELECT seq FROM sqlite_sequence WHERE name = 'sync_journal'), 0)", (epoch,))
        return epoch

    def rewind_epoch(self, old: str, first: int) -> str:
        """The centre holds other records of epoch ``old`` from ``first`` on (the store was
        copied back): move this store's records of it from ``first`` on, and the parcels and
        tasks they made, into a new epoch, so they reach the centre under keys of their own.
        Returns the new epoch (this store's current one if ``old`` was)."""
        epoch = new_epoch_id()
        with self._transaction():
            made = {kind: self._made_since(kind, old, first) for kind in ("parcels", "door_tasks")}
            self._rekey(old, epoch, first, made)
            self.conn.execute(
                "UPDATE sync_state SET parent = epoch, epoch = ?, base = ? WHERE epoch = ?",
                (epoch, first - 1, old))
            self.conn.execute("UPDATE sync_state SET acked = MIN(acked, ?)", (first - 1,))
        return epoch

    def _made_since(self, kind: str, epoch: str, first: int) -> set[int]:
        """Ids of the rows of ``kind`` made at or after ``first``: their first record is there."""
        rows = self.conn.execute(
            f"SELECT json_extract(data, '$.id') AS id FROM sync_journal WHERE kind = '{kind}'"
            " AND epoch = ? GROUP BY id HAVING MIN(seq) >= ?", (epoch, first)).fetchall()
        made = {r["id"] for r in rows}
        # A row whose older records were pruned would look new: only ids above every id the
        # journal saw before ``first`` are (ids only grow).
        older = self.conn.execute(
            f"SELECT MAX(json_extract(data, '$.id')) FROM sync_journal WHERE kind = '{kind}'"
            " AND seq < ?", (first,)).fetchone()[0]
        return {i for i in made if older is None or i > older}

    def _rekey(self, old: str, new: str, first: int, made: dict[str, set[int]]) -> None:
        table = {"parcels": "parcels", "door_tasks": "door_tasks"}
        for kind, ids in made.items():
            for row_id in ids:
                self.conn.execute(f"UPDATE {table[kind]} SET origin = ? WHERE id = ?"
                                  " AND origin = ?", (new, row_id, old))
        rows = self.conn.execute("SELECT seq, kind, data FROM sync_journal WHERE seq >= ?"
                                 " AND epoch = ?", (first, old)).fetchall()
        for row in rows:
            data = json.loads(row["data"])
            _reorigin(data, row["kind"], old, new, made)
            self.conn.execute("UPDATE sync_journal SET epoch = ?, data = ? WHERE seq = ?",
                              (new, json.dumps(data, ensure_ascii=False), row["seq"]))


def _reorigin(data: dict[str, Any], kind: str, old: str, new: str,
              made: dict[str, set[int]]) -> None:
    """Point a record's references at the new epoch where the row it names moved there."""
    refs = {"parcels": [("origin", "id", "parcels")],
            "door_tasks": [("origin", "id", "door_tasks")],
            "door_task_parcels": [("task_origin", "task_id", "door_tasks"),
                                  ("parcel_origin", "parcel_id", "parcels")],
            "events": [("parcel_origin", "parcel_id", "parcels")]}[kind]
    for origin_key, id_key, table in refs:
        if data.get(origin_key) == old and data.get(id_key) in made[table]:
            data[origin_key] = new
    if kind == "events" and data.get("task_origin") == old and isinstance(
            data.get("detail"), dict) and data["detail"].get("task") in made["door_tasks"]:
        data["task_origin"] = new
