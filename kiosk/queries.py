"""Read models for pages, the API and the lights: plain SQL, no unit of work needed."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from kiosk.store import iso


def active_signals(conn: sqlite3.Connection, now: datetime) -> dict[str, str]:
    """Slot code -> 'on' or 'blink' for every slot that should be lit at ``now``."""
    rows = conn.execute(
        "SELECT slot_code, mode FROM signals WHERE until > ?", (iso(now),)).fetchall()
    return {r["slot_code"]: r["mode"] for r in rows}


def slots_view(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Every active slot in shelf order with its waiting parcels and its light.

    This is the body of ``GET /api/slots``: keep its keys stable, other tools rely on them.
    """
    slots = conn.execute(
        """SELECT code, shelf, position, capacity, buildings, overflow FROM slots
           WHERE active = 1 ORDER BY overflow, position""").fetchall()
    parcels = conn.execute(
        """SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at,
                  h.under_observation
           FROM parcels p JOIN households h ON h.id = p.household_id
           WHERE p.status = 'waiting' ORDER BY p.id""").fetchall()
    lights = active_signals(conn, now)
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
            "light": lights.get(s["code"]),
            "parcels": by_slot.get(s["code"], []),
        }
        for s in slots
    ]
