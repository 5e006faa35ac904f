"""The compound's read side at the centre: plain SQL over the gates' mirrors, by community.

The mirrors have the gate's own names and shapes (``parcels``, ``events``, ``door_tasks``,
``door_task_parcels``) plus ``community_id``, ``gate_id`` and the epoch a row was made in,
so a gate's query reads here with ``WHERE community_id = %s`` (and ``gate_id`` to split).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import psycopg

from kiosk.centre.db import unavailable_as_shelf_error
from kiosk.queries import COUNTED_EVENTS

TOTALS = ("checked_in", "door_tasks", "delivered", "handed_out", "waiting", "escalated")


def compound_counts(conn: psycopg.Connection, community: str, day: date,
                    timezone: tzinfo) -> dict[str, Any]:
    """A day's numbers for the whole compound and per gate: the keys of a gate's
    ``kiosk.queries.daily_counts`` totals, counted the same way from the gates' events, so
    that the compound's totals are the sum of what each gate's own `shelf counts` says."""
    start = datetime.combine(day, time(0), timezone)
    end = datetime.combine(day + timedelta(days=1), time(0), timezone)
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        gates = [r["id"] for r in conn.execute(
            "SELECT id FROM gates WHERE community_id = %s ORDER BY id", (community,))]
        counted = conn.execute(
            "SELECT gate_id, kind, count(*) AS n FROM events WHERE community_id = %s"
            " AND at >= %s AND at < %s AND kind = ANY(%s) GROUP BY gate_id, kind",
            (community, start, end, list(COUNTED_EVENTS))).fetchall()
        escalated = conn.execute(
            "SELECT gate_id, sum(n) AS n FROM (SELECT gate_id, count(DISTINCT detail->>'task')"
            " AS n FROM events WHERE community_id = %s AND at >= %s AND at < %s"
            " AND kind = 'task_escalated' GROUP BY gate_id, actor, detail->>'team') t"
            " GROUP BY gate_id", (community, start, end)).fetchall()
        waiting = conn.execute(
            "SELECT gate_id, count(*) AS n FROM parcels WHERE community_id = %s"
            " AND checked_in_at < %s AND (closed_at IS NULL OR closed_at >= %s)"
            " GROUP BY gate_id", (community, end, end)).fetchall()
    per_gate = {gate: dict.fromkeys(TOTALS, 0) for gate in gates}
    for row in counted:
        per_gate.setdefault(row["gate_id"], dict.fromkeys(TOTALS, 0))[
            COUNTED_EVENTS[row["kind"]]] += row["n"]
    for rows, key in ((escalated, "escalated"), (waiting, "waiting")):
        for row in rows:
            per_gate.setdefault(row["gate_id"], dict.fromkeys(TOTALS, 0))[key] = int(row["n"])
    totals = {key: sum(c[key] for c in per_gate.values()) for key in TOTALS}
    return {"date": day.isoformat(), "timezone": getattr(timezone, "key", None) or str(timezone),
            "from": start.isoformat(), "to": end.isoformat(), "community": community,
            "totals": totals, "gates": [{"gate": g, **c} for g, c in per_gate.items()]}


def compound_shelf(conn: psycopg.Connection, community: str) -> list[dict[str, Any]]:
    """Every gate of the compound with what waits on its shelf, slot by slot, as its last
    sync said; each parcel names its gate's epoch (its key with its id)."""
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        gates = conn.execute(
            "SELECT id, name, status->'names' AS names, last_sync_at, pending FROM gates"
            " WHERE community_id = %s"
            " ORDER BY id", (community,)).fetchall()
        parcels = conn.execute(
            "SELECT p.gate_id, p.origin, p.id, p.ref, p.household_id, p.slot_code, p.fresh,"
            " p.checked_in_at, t.id AS task_id FROM parcels p LEFT JOIN door_task_parcels l"
            " ON l.community_id = p.community_id AND l.gate_id = p.gate_id"
            " AND l.parcel_origin = p.origin AND l.parcel_id = p.id"
            " LEFT JOIN door_tasks t ON t.community_id = l.community_id"
            " AND t.gate_id = l.gate_id AND t.origin = l.task_origin AND t.id = l.task_id"
            " AND t.status = 'open' WHERE p.community_id = %s AND p.status = 'waiting'"
            " ORDER BY p.gate_id, p.slot_code, p.id", (community,)).fetchall()
    by_gate: dict[str, list[dict[str, Any]]] = {g["id"]: [] for g in gates}
    for parcel in parcels:
        by_gate.setdefault(parcel["gate_id"], []).append(parcel)
    return [{**g, "parcels": by_gate.get(g["id"], [])} for g in gates]


def open_alarms(conn: psycopg.Connection, community: str) -> list[dict[str, Any]]:
    """What the sync found that needs a person (a gate restored, rewound, a record that
    differs), newest first."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT id, gate_id, at, kind, epoch, seq, detail FROM sync_alarms"
            " WHERE community_id = %s AND resolved_at IS NULL ORDER BY id DESC LIMIT 50",
            (community,)).fetchall()
