"""Read models for pages, the API, the demo and the tools: plain SQL, no unit of work needed.

Every query here that runs per request or per frame reads only what is on the shelf now (through
the partial indexes on waiting parcels), so it costs the same at 1M parcels of history as at 1k.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from kiosk.store import iso


def slots_view(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Every active slot in shelf order with its waiting parcels and its light.

    This is the body of ``GET /api/slots``: keep its keys stable, other tools rely on them.
    """
    slots = conn.execute(
        """SELECT s.code, s.shelf, s.position, s.capacity, s.buildings, s.overflow,
                  g.mode AS light
           FROM slots s LEFT JOIN signals g ON g.slot_code = s.code AND g.until > ?
           WHERE s.active = 1 ORDER BY s.overflow, s.position""", (iso(now),)).fetchall()
    parcels = conn.execute(
        """SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at,
                  h.under_observation
           FROM parcels p JOIN households h ON h.id = p.household_id
           WHERE p.status = 'waiting' ORDER BY p.id""").fetchall()
    by_slot: dict[str, list[dict[str, Any]]] = {}
    for p in parcels:
        by_slot.setdefault(p["slot_code"], []).append({
            "id": p["id"],
            "household": p["household_id"],
            "ref": p["ref"],
            "checked_in_at": p["checked_in_at"],
            "door_delivery": bool(p["under_observation"]),
        })
    return [
        {
            "code": s["code"],
            "shelf": s["shelf"],
            "capacity": None if s["overflow"] else s["capacity"],
            "buildings": s["buildings"],
            "overflow": bool(s["overflow"]),
            "count": len(by_slot.get(s["code"], [])),
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
