"""A gate's exchange with its centre: its batch applied once, its commands handed out.

Enforced here (README "Several gates, one compound"):

- **A gate writes only its own records.** The gate is the one its token names
  (``kiosk.centre.gates.authenticate``); a request naming another is refused whole.
- **Tracking rows** (pyeventsourcing's process recorder): ``gate_epochs.applied`` says how
  far each epoch of each gate is applied; it is read ``FOR UPDATE`` and moved in the same
  transaction as the records it counts, so a batch is applied whole or not at all, and two
  exchanges of one gate at once wait for each other.
- **No gap, no silent skip.** A batch is applied only if it starts where the epoch's last
  one ended (otherwise the answer says where that is, and the gate sends from there). A
  record the centre holds already is compared with the one it holds: the same, nothing
  happens (a batch sent twice changes nothing); different, it is an alarm and the gate is
  told the store was rewound from there, so it moves its own records under a new epoch.
- **A stale exchange is not judged.** One that arrived before an exchange of the same gate
  already heard (held back on its way while a newer one was applied) says nothing of the
  gate's store or health: its ``holds`` is older than what the centre holds, not a store
  copied back (``gates.heard_at``).
- **A restored gate is flagged.** A new epoch of a gate that had one is an alarm saying how
  many of the old epoch's records the restored store no longer holds.
- **Versions.** The centre takes the gate schemas of its own program and the one before;
  beyond, "upgrade required".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kiosk.centre.db import COUNTS_LOCK, unavailable_as_shelf_error
from kiosk.centre.gates import GateRef
from kiosk.migrations import load
from kiosk.sync.protocol import (
    COMMANDS,
    PROTOCOL,
    NotThisGate,
    UpgradeRequired,
    accepted_schemas,
)

COMMAND_RESULTS = {"command_applied": "applied", "command_refused": "refused"}


@dataclass(frozen=True)
class Incoming:
    """One record as a gate sent it."""

    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]


def exchange(conn: psycopg.Connection, gate: GateRef, request: dict[str, Any],
             now: datetime) -> dict[str, Any]:
    """Apply what ``gate`` sent, note its health, and answer (``kiosk.sync.protocol``).

    A request that is not of the protocol's shape is a ValueError, and nothing is applied.
    """
    _check(gate, request)
    try:
        batch = request.get("batch") or None
        records = _records(batch["records"]) if batch else []
        _shape(request, batch)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an exchange of protocol {PROTOCOL}: {exc!r}") from None
    answer: dict[str, Any] = {"protocol": PROTOCOL, "applied": None, "rewound": None}
    with unavailable_as_shelf_error(), conn.transaction():
        # First, before any row lock: a closed day's counts are not being kept right now.
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (COUNTS_LOCK,))
        current = _tracking(conn, gate, request["epoch"], now, parent=request.get("parent"),
                            base=int(request.get("base") or 0))
        if records:
            epoch = batch["epoch"]
            row = current if epoch == current["epoch"] else _tracking(
                conn, gate, epoch, now, parent=None, base=records[0].seq - 1)
            before = row["applied"]
            through, conflict = _apply(conn, gate, row, records, now)
            answer["applied"] = {"epoch": epoch, "through": through,
                                 "new": max(0, through - before)}
            if conflict is not None:
                answer["rewound"] = {"epoch": epoch, "from": conflict}
        if _newest_heard(conn, gate, now):
            if answer["rewound"] is None:
                answer["rewound"] = _rewound(conn, gate, request, now)
            _note_health(conn, gate, request, now, len(records))
    answer["commands"] = _commands(conn, gate, int(request.get("commands_applied") or 0))
    return answer


def _check(gate: GateRef, request: dict[str, Any]) -> None:
    if request.get("community") != gate.community or request.get("gate") != gate.gate:
        raise NotThisGate(f"this credential is the gate {gate.gate!r} of {gate.community!r}'s; "
                          f"the request names {request.get('gate')!r} of "
                          f"{request.get('community')!r}: nothing was applied")
    latest = len(load("sqlite"))
    schema, protocol = request.get("schema"), request.get("protocol")
    if protocol != PROTOCOL or schema not in accepted_schemas(latest):
        newer = isinstance(schema, int) and schema > latest
        raise UpgradeRequired(
            f"upgrade required: the gate's store is at schema {schema} (protocol {protocol}), "
            f"the centre takes {' and '.join(map(str, accepted_schemas(latest)))} (protocol "
            f"{PROTOCOL}); upgrade the {'centre' if newer else 'gate'}")


def _shape(request: dict[str, Any], batch: dict[str, Any] | None) -> None:
    """Refuse (TypeError) fields of the wrong type before anything is written."""
    texts = [request["epoch"], *([batch["epoch"]] if batch else [])]
    numbers = [request.get(k) or 0 for k in ("base", "holds", "commands_applied")]
    if not all(isinstance(t, str) and 0 < len(t) <= 64 for t in texts):
        raise TypeError("epochs are short strings")
    if not all(isinstance(n, int) and n >= 0 for n in numbers):
        raise TypeError("base, holds and commands_applied are whole numbers")
    if request.get("parent") is not None and not isinstance(request["parent"], str):
        raise TypeError("parent is an epoch or null")
    if not isinstance(request.get("status") or {}, dict):
        raise TypeError("status is an object")


def _records(rows: Sequence[Sequence[Any]]) -> list[Incoming]:
    records = [Incoming(int(seq), datetime.fromisoformat(at), kind, data)
               for seq, at, kind, data in rows]
    if any(b.seq != a.seq + 1 for a, b in zip(records, records[1:], strict=False)):
        raise ValueError("a batch must be consecutive records of one epoch")
    unknown = {r.kind for r in records} - set(MIRRORS)
    if unknown:
        raise ValueError(f"unknown record kinds: {', '.join(sorted(unknown))}")
    return records


def _tracking(conn: psycopg.Connection, gate: GateRef, epoch: str, now: datetime, *,
              parent: str | None, base: int) -> dict[str, Any]:
    """The epoch's tracking row, locked for this transaction (made when first named)."""
    key = (gate.community, gate.gate, epoch)
    row = conn.execute("SELECT * FROM gate_epochs WHERE community_id = %s AND gate_id = %s"
                       " AND epoch = %s FOR UPDATE", key).fetchone()
    if row is not None:
        return row
    # Two first exchanges of one gate at once: the gate's row serialises them.
    conn.execute("SELECT 1 FROM gates WHERE community_id = %s AND id = %s FOR UPDATE",
                 key[:2])
    before = conn.execute("SELECT epoch, applied FROM gate_epochs WHERE community_id = %s"
                          " AND gate_id = %s", key[:2]).fetchall()
    conn.execute("INSERT INTO gate_epochs (community_id, gate_id, epoch, parent, base, applied,"
                 " started_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                 (*key, parent, base, base, now))
    if before:  # a gate that had an epoch starts another: restored, or copied back
        held = next((r["applied"] for r in before if r["epoch"] == parent), None)
        _alarm(conn, gate, now, "restored", epoch, base, parent=parent, base=base,
               parent_applied=held, lost=max(0, held - base) if held is not None else None)
    return conn.execute("SELECT * FROM gate_epochs WHERE community_id = %s AND gate_id = %s"
                        " AND epoch = %s FOR UPDATE", key).fetchone()


def _apply(conn: psycopg.Connection, gate: GateRef, tracking: dict[str, Any],
           records: list[Incoming], now: datetime) -> tuple[int, int | None]:
    """Apply a batch from where the epoch ended; return (applied through, conflicting seq)."""
    applied, epoch = tracking["applied"], tracking["epoch"]
    first, last = records[0].seq, records[-1].seq
    if first > applied + 1:
        return applied, None  # a gap: the gate sends again from applied + 1
    held = [r for r in records if r.seq <= applied]
    if held:
        conflict = _compare(conn, gate, epoch, held, now)
        if conflict is not None:
            return applied, conflict
    fresh = [r for r in records if r.seq > applied]
    if not fresh:
        return applied, None
    span = {"c": gate.community, "g": gate.gate, "e": epoch, "first": fresh[0].seq,
            "last": last, "now": now}
    # The whole batch in one statement (the server parses it: no statement per record), then
    # each mirror from it in one statement more; a handful of round trips a batch.
    conn.execute(WRITE_RECORDS, {**span, "records": Jsonb(
        [{"seq": r.seq, "at": r.at.isoformat(), "kind": r.kind, "data": r.data}
         for r in fresh])})
    for kind, statement in MIRRORS.items():
        if any(r.kind == kind for r in fresh):
            conn.execute(statement, span)
    _commands_done(conn, gate, [r for r in fresh if r.kind == "events"])
    conn.execute(FORGET_COUNTS, span)
    conn.execute("UPDATE gate_epochs SET applied = %(last)s WHERE community_id = %(c)s"
                 " AND gate_id = %(g)s AND epoch = %(e)s", span)
    return last, None


def _compare(conn: psycopg.Connection, gate: GateRef, epoch: str, held: list[Incoming],
             now: datetime) -> int | None:
    """The first record that differs from the one the centre holds under its key (an alarm)."""
    stored = {r["seq"]: r for r in conn.execute(
        "SELECT seq, at, kind, data FROM sync_records WHERE community_id = %s AND gate_id = %s"
        " AND epoch = %s AND seq BETWEEN %s AND %s",
        (gate.community, gate.gate, epoch, held[0].seq, held[-1].seq)).fetchall()}
    for record in held:
        mine = stored.get(record.seq)
        if mine is None:
            continue  # at or below the epoch's base: its parent's, not this epoch's to compare
        if (mine["kind"], mine["data"], mine["at"]) != (record.kind, record.data, record.at):
            _alarm(conn, gate, now, "conflict", epoch, record.seq, record_kind=record.kind,
                   held={"at": mine["at"].isoformat(), "data": mine["data"]},
                   sent={"at": record.at.isoformat(), "data": record.data})
            return record.seq
    return None


def _newest_heard(conn: psycopg.Connection, gate: GateRef, now: datetime) -> bool:
    """Note that an exchange of ``gate`` arrived at ``now``; False when one that arrived later
    was heard already: this one was held back on its way (its sync may since have been killed
    and started again), so what it says of the gate's store (``holds``) and health is older
    than what the centre knows, and is not judged (its records are, as any batch's)."""
    row = conn.execute("UPDATE gates SET heard_at = greatest(heard_at, %s) WHERE community_id"
                       " = %s AND id = %s RETURNING heard_at", (now, gate.community, gate.gate)
                       ).fetchone()
    return row is None or row["heard_at"] <= now


def _rewound(conn: psycopg.Connection, gate: GateRef, request: dict[str, Any],
             now: datetime) -> dict[str, Any] | None:
    """Does the centre hold more of the gate's current epoch than the gate ever wrote?"""
    row = conn.execute("SELECT applied FROM gate_epochs WHERE community_id = %s AND gate_id = %s"
                       " AND epoch = %s", (gate.community, gate.gate, request["epoch"])
                       ).fetchone()
    holds = int(request.get("holds") or 0)
    if row is None or row["applied"] <= holds:
        return None
    _alarm(conn, gate, now, "rewound", request["epoch"], holds + 1, holds=holds,
           applied=row["applied"])
    return {"epoch": request["epoch"], "from": holds + 1}


def _alarm(conn: psycopg.Connection, gate: GateRef, now: datetime, kind: str, epoch: str,
           seq: int | None, **detail: Any) -> None:
    """Record what needs a person, once (the gate may ask again before it has acted)."""
    conn.execute(
        "INSERT INTO sync_alarms (community_id, gate_id, at, kind, epoch, seq, detail)"
        " SELECT %s, %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM sync_alarms"
        " WHERE community_id = %s AND gate_id = %s AND kind = %s AND epoch = %s"
        " AND seq IS NOT DISTINCT FROM %s AND resolved_at IS NULL)",
        (gate.community, gate.gate, now, kind, epoch, seq, Jsonb(detail),
         gate.community, gate.gate, kind, epoch, seq))


def _note_health(conn: psycopg.Connection, gate: GateRef, request: dict[str, Any],
                 now: datetime, received: int) -> None:
    status = request.get("status") or {}
    oldest = status.get("oldest_pending_at")
    conn.execute(
        "UPDATE gates SET epoch = %s, schema_version = %s, last_sync_at = %s, pending = %s,"
        " oldest_pending_at = %s, commands_applied = %s, status = %s"
        " WHERE community_id = %s AND id = %s",
        (request["epoch"], request["schema"], now,
         max(0, int(status.get("pending") or 0) - received),
         datetime.fromisoformat(oldest) if oldest else None,
         int(request.get("commands_applied") or 0), Jsonb(status), gate.community, gate.gate))


def _commands(conn: psycopg.Connection, gate: GateRef, after: int) -> list[dict[str, Any]]:
    """The gate's commands after ``after``, in order (numbered under the gate's row lock, so
    none with a lower number can still commit: reading "after N" skips nothing)."""
    with unavailable_as_shelf_error():
        rows = conn.execute(
            "SELECT seq, kind, payload, created_at, created_by FROM commands"
            " WHERE community_id = %s AND gate_id = %s AND seq > %s ORDER BY seq LIMIT %s",
            (gate.community, gate.gate, after, COMMANDS)).fetchall()
    return [{"seq": r["seq"], "kind": r["kind"], "payload": r["payload"],
             "created_at": r["created_at"].isoformat(), "created_by": r["created_by"]}
            for r in rows]


# --- the mirrors: each record kind into the centre's copy of the gate's table -----------------
#
# Each mirror row is made from the batch's records just written to ``sync_records``, by
# PostgreSQL's ``jsonb_populate_record`` (a record's keys are the gate table's columns; its
# 0/1 become booleans, its ISO times timestamptz, its nulls NULL). A row written by several
# records of one batch takes the last one's values, as applying them one after the other
# would (every column but the key is replaced): one row per key, so one statement can upsert.

WRITE_RECORDS = """
    INSERT INTO sync_records (community_id, gate_id, epoch, seq, at, kind, data, received_at)
    SELECT %(c)s, %(g)s, %(e)s, r.seq, r.at, r.kind, r.data, %(now)s
    FROM jsonb_to_recordset(%(records)s) AS r(seq BIGINT, at TIMESTAMPTZ, kind TEXT, data JSONB)
    ORDER BY r.seq"""


# The gate's kept days (kiosk.centre.queries.kept_rows) that the batch may change: those ending
# after the earliest moment it speaks of. A row's moments are never earlier than its first
# (a parcel's check-in, a task's opening, an event's time; a task's parcel: the task's
# opening), and a day counts only what began before its end. A record naming no moment (a
# task's parcel whose task is not here) drops them all.
FORGET_COUNTS = """
    DELETE FROM day_counts WHERE community_id = %(c)s AND gate_id = %(g)s AND ends_at > (
        SELECT CASE WHEN count(*) > count(first) THEN '-infinity' ELSE min(first) END
        FROM (SELECT least((r.data->>'checked_in_at')::timestamptz,
                           (r.data->>'created_at')::timestamptz,
                           (r.data->>'at')::timestamptz, t.created_at) AS first
              FROM sync_records r LEFT JOIN door_tasks t ON r.kind = 'door_task_parcels'
                AND t.community_id = r.community_id AND t.gate_id = r.gate_id
                AND t.origin = r.data->>'task_origin' AND t.id = (r.data->>'task_id')::bigint
              WHERE r.community_id = %(c)s AND r.gate_id = %(g)s AND r.epoch = %(e)s
                AND r.seq BETWEEN %(first)s AND %(last)s) batch)"""


def _mirror(table: str, key: tuple[str, ...], columns: tuple[str, ...], *,
            replace: bool) -> str:
    """The statement that writes the batch's records of kind ``table`` into its mirror:
    ``replace`` a row held under the same key (else keep it, DO NOTHING)."""
    taken = {"seq": "r.seq", "epoch": "r.epoch", "detail": "r.data->'detail'"}
    shown = [taken.get(c, f"m.{c}") for c in (*key, *columns)]
    last = f"DISTINCT ON ({', '.join(f'm.{k}' for k in key)}) " if replace else ""
    order = f" ORDER BY {', '.join(f'm.{k}' for k in key)}, r.seq DESC" if replace else ""
    outcome = ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
               if replace else "DO NOTHING")
    return (f"INSERT INTO {table} (community_id, gate_id, {', '.join((*key, *columns))})"
            f" SELECT {last}%(c)s, %(g)s, {', '.join(shown)}"
            f" FROM sync_records r, jsonb_populate_record(NULL::{table}, r.data) m"
            " WHERE r.community_id = %(c)s AND r.gate_id = %(g)s AND r.epoch = %(e)s"
            f" AND r.seq BETWEEN %(first)s AND %(last)s AND r.kind = '{table}'{order}"
            f" ON CONFLICT (community_id, gate_id, {', '.join(key)}) {outcome}")


MIRRORS = {
    "parcels": _mirror("parcels", ("origin", "id"), (
        "label", "ref", "household_id", "slot_code", "status", "kind", "symbology",
        "room_confirmed", "fresh", "checked_in_at", "closed_at", "seq"), replace=True),
    "door_tasks": _mirror("door_tasks", ("origin", "id"), (
        "household_id", "team", "status", "created_at", "assigned_at", "fresh_since",
        "escalations", "closed_at", "closed_by", "closed_reason", "told_at", "seq"),
        replace=True),
    "door_task_parcels": _mirror("door_task_parcels", (
        "task_origin", "task_id", "parcel_origin", "parcel_id"), (), replace=False),
    "events": _mirror("events", ("epoch", "seq"), (
        "id", "at", "kind", "actor", "parcel_origin", "parcel_id", "household_id",
        "slot_code", "detail"), replace=False),
}


def _commands_done(conn: psycopg.Connection, gate: GateRef, events: list[Incoming]) -> None:
    """A command's outcome, as the gate recorded it: the command is done (or refused)."""
    done = [(COMMAND_RESULTS[d["kind"]], Jsonb(d["detail"]), datetime.fromisoformat(d["at"]),
             gate.community, gate.gate, d["detail"].get("command"))
            for r in events for d in (r.data,) if d["kind"] in COMMAND_RESULTS]
    if done:
        with conn.cursor() as cur:
            cur.executemany("UPDATE commands SET status = %s, result = %s, done_at = %s"
                            " WHERE community_id = %s AND gate_id = %s AND seq = %s", done)
