"""Read models for pages, the API, the demo and the tools: plain SQL, no unit of work needed.

Every query here that runs per request reads only what is on the shelf now (through the partial
indexes on waiting parcels), so it costs the same at 1M parcels of history as at 1k.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kiosk.store import iso

# ``:slot`` narrows these two to one slot; NULL means every slot.
ACTIVE_SLOTS = """
    SELECT s.code, s.shelf, s.position, s.capacity, s.buildings, s.overflow, g.mode AS light
    FROM slots s LEFT JOIN signals g ON g.slot_code = s.code AND g.until > :now
    WHERE s.active = 1 AND (:slot IS NULL OR s.code = :slot)
    ORDER BY s.overflow, s.position"""
WAITING_COUNTS = """
    SELECT slot_code, COUNT(*) AS waiting FROM parcels
    WHERE status = 'waiting' AND (:slot IS NULL OR slot_code = :slot)
    GROUP BY slot_code"""
WAITING_PARCELS = """
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed
    FROM parcels p JOIN households h ON h.id = p.household_id
    WHERE p.status = 'waiting' ORDER BY p.id"""
# One slot's: through the waiting-parcels index, however long the collected history grows.
SLOT_WAITING_PARCELS = """
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed
    FROM parcels p JOIN households h ON h.id = p.household_id
    WHERE p.status = 'waiting' AND p.slot_code = :slot ORDER BY p.id"""
# The oldest ``:limit`` waiting parcels of every slot, slot by slot: a slot's subquery reads
# that slot's entries in the waiting-parcels index and keeps its first few ids, and only
# those parcels and households are fetched. CROSS JOIN holds SQLite's planner to that order
# (slots outside); a plain JOIN let it scan every parcel per slot, 1,000 times slower at
# 2,000 parcels. A ROW_NUMBER() OVER (PARTITION BY slot_code ORDER BY id) window gives the
# same rows but sorts every waiting parcel first: 6 times slower here.
FIRST_WAITING_PARCELS = """
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed
    FROM slots s
    CROSS JOIN parcels p ON p.id IN (
        SELECT id FROM parcels
        WHERE status = 'waiting' AND slot_code = s.code
        ORDER BY id LIMIT :limit)
    JOIN households h ON h.id = p.household_id
    WHERE s.active = 1
    ORDER BY p.id"""


def slots_view(conn: sqlite3.Connection, now: datetime,
               parcels_per_slot: int | None = None) -> list[dict[str, Any]]:
    """Every active slot in shelf order with its waiting parcels (oldest first) and its light.

    This is the body of ``GET /api/slots``: keep its keys stable, other tools rely on them.
    With ``parcels_per_slot`` a slot lists only its oldest that many parcels while ``count``
    still counts them all, so a page grows with the slots, not with the parcels.
    """
    if parcels_per_slot is None:
        return _slots(conn, now, None, WAITING_PARCELS, {})
    if parcels_per_slot < 1:
        raise ValueError(f"parcels_per_slot must be at least 1, not {parcels_per_slot}")
    return _slots(conn, now, None, FIRST_WAITING_PARCELS, {"limit": parcels_per_slot})


def slot_view(conn: sqlite3.Connection, now: datetime, code: str) -> dict[str, Any] | None:
    """One active slot with all its waiting parcels, shaped like an item of ``slots_view``."""
    found = _slots(conn, now, code, SLOT_WAITING_PARCELS, {"slot": code})
    return found[0] if found else None


@contextmanager
def _one_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Let every statement inside read the same committed state (in WAL, writers go on).

    A check-in committing between two of a view's statements would otherwise make a slot's
    count disagree with its list.
    """
    if conn.in_transaction:  # the caller's own transaction reads one state already
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")  # nothing was written


def _slots(conn: sqlite3.Connection, now: datetime, slot: str | None, parcels_sql: str,
           params: dict[str, Any]) -> list[dict[str, Any]]:
    """The active slots (all, or ``slot`` alone), each with its share of the parcels."""
    with _one_snapshot(conn):
        parcels = conn.execute(parcels_sql, params).fetchall()
        counts = {r["slot_code"]: r["waiting"]
                  for r in conn.execute(WAITING_COUNTS, {"slot": slot})}
        slots = conn.execute(ACTIVE_SLOTS, {"slot": slot, "now": iso(now)}).fetchall()
    by_slot: dict[str, list[dict[str, Any]]] = {}
    for p in parcels:
        by_slot.setdefault(p["slot_code"], []).append({
            "id": p["id"],
            "household": p["household_id"],
            "ref": p["ref"],
            "checked_in_at": p["checked_in_at"],
            "door_delivery": bool(p["under_observation"]),
            "kind": p["kind"],  # shelf (our label) or carrier (its tracking number is the ref)
            "room_confirmed": bool(p["room_confirmed"]),  # False: typed at the gate; check it
        })
    return [
        {
            "code": s["code"],
            "shelf": s["shelf"],
            "capacity": None if s["overflow"] else s["capacity"],
            "buildings": s["buildings"],
            "overflow": bool(s["overflow"]),
            "count": counts.get(s["code"], 0),
            "light": s["light"],
            "parcels": by_slot.get(s["code"], []),
        }
        for s in slots
    ]


def waiting_count(conn: sqlite3.Connection) -> int:
    """How many parcels are on the shelf now."""
    return conn.execute("SELECT COUNT(*) FROM parcels WHERE status = 'waiting'").fetchone()[0]


def pending_notices(conn: sqlite3.Connection) -> int:
    """How many notices still wait to be sent (or retried)."""
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]


def household_ids(conn: sqlite3.Connection) -> list[str]:
    """Every household's id in building and room order."""
    rows = conn.execute("SELECT id FROM households ORDER BY building, room").fetchall()
    return [r["id"] for r in rows]


def household_email(conn: sqlite3.Connection, household: str) -> str:
    row = conn.execute("SELECT email FROM households WHERE id = ?", (household,)).fetchone()
    return row["email"] if row else ""


def failed_notices(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Notices that gave up, oldest first: the staff retry them or reach the household otherwise.

    ``parcel_waiting`` says whether the parcel is still on the shelf (if not, no need to retry).
    Reads through the partial index on failed rows, so it stays cheap as the outbox grows.
    """
    rows = conn.execute(
        """SELECT o.id, o.household_id, o.parcel_id, o.channel, o.kind, o.attempts,
                  o.last_error, o.created_at, p.status = 'waiting' AS parcel_waiting
           FROM outbox o LEFT JOIN parcels p ON p.id = o.parcel_id
           WHERE o.status = 'failed' ORDER BY o.id""").fetchall()
    return [
        {
            "id": r["id"],
            "household": r["household_id"],
            "parcel": r["parcel_id"],
            "parcel_waiting": bool(r["parcel_waiting"]),
            "channel": r["channel"],
            "kind": r["kind"],
            "attempts": r["attempts"],
            "last_error": r["last_error"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]


def failed_notice_count(conn: sqlite3.Connection) -> int:
    """How many notices gave up (the staff page's banner); through the failed-rows index."""
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").fetchone()[0]


# What the gate's screen shows: every outcome at the gate, in order.
GATE_EVENT_KINDS = ("checked_in", "rescanned", "collected", "scan_refused", "needs_room")


def gate_events(conn: sqlite3.Connection, after_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The gate's outcomes recorded after event ``after_id``, oldest first (at most ``limit``).

    A screen starts from ``last_event_id`` and asks again with the last id it showed. Reads a
    range of the events' ids, so it costs the same however long the history is. ``household``
    is as stored: a screen masks it (``kiosk.domain.mask_household``).
    """
    marks = ",".join("?" * len(GATE_EVENT_KINDS))
    rows = conn.execute(
        f"""SELECT id, at, kind, actor, parcel_id, household_id, slot_code, detail FROM events
            WHERE id > ? AND kind IN ({marks}) ORDER BY id LIMIT ?""",
        (after_id, *GATE_EVENT_KINDS, limit)).fetchall()
    return [_gate_event(r) for r in rows]


def _gate_event(row: sqlite3.Row) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    return {
        "id": row["id"],
        "at": row["at"],
        "kind": row["kind"],
        # Check-ins and pickups name their entry in the details; a refusal's actor is its entry.
        "source": detail.get("source") or row["actor"],
        "household": row["household_id"],
        "slot": row["slot_code"],
        "error": detail.get("error"),
        "message": detail.get("message"),
        "code": detail.get("code"),
        "suggestions": list(detail.get("suggestions") or []),
        "parcel": row["parcel_id"],
        "room_confirmed": detail.get("room_confirmed"),
        "retry_after_s": detail.get("retry_after_s"),
    }


def last_event_id(conn: sqlite3.Connection) -> int:
    """The id of the newest event (0 when there is none): where a gate screen starts."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]


def camera_lost(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """When and why the kiosk's camera was lost, while it still is (None: it works).

    The gate screen asks at every poll: the newest camera event, through its own index.
    """
    row = conn.execute(
        """SELECT kind, at, detail FROM events WHERE kind IN ('camera_lost', 'camera_back')
           ORDER BY id DESC LIMIT 1""").fetchone()
    if row is None or row["kind"] != "camera_lost":
        return None
    return {"since": row["at"], "reason": json.loads(row["detail"]).get("reason")}
