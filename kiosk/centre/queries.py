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


def day_span(day: date, timezone: tzinfo) -> tuple[datetime, datetime]:
    """The community's day ``day`` as [start, end)."""
    return (datetime.combine(day, time(0), timezone),
            datetime.combine(day + timedelta(days=1), time(0), timezone))


def gate_counts(conn: psycopg.Connection, start: datetime, end: datetime,
                community: str | None = None) -> dict[tuple[str, str], dict[str, int]]:
    """(community, gate) -> the ``TOTALS`` of [start, end), counted from the gates' events as
    a gate's own ``kiosk.queries.daily_counts`` counts them; one community, or every one
    (the district). Every registered gate is there, zeros too. Run it inside a snapshot."""
    scope, args = ("community_id = %s AND ", [community]) if community else ("", [])
    gates = conn.execute(f"SELECT community_id, id FROM gates WHERE {scope}TRUE"
                         " ORDER BY community_id, id", args).fetchall()
    counted = conn.execute(
        f"SELECT community_id, gate_id, kind, count(*) AS n FROM events WHERE {scope}"
        " at >= %s AND at < %s AND kind = ANY(%s) GROUP BY community_id, gate_id, kind",
        (*args, start, end, list(COUNTED_EVENTS))).fetchall()
    escalated = conn.execute(
        "SELECT community_id, gate_id, sum(n) AS n FROM (SELECT community_id, gate_id,"
        " count(DISTINCT detail->>'task') AS n FROM events WHERE"
        f" {scope} at >= %s AND at < %s AND kind = 'task_escalated'"
        " GROUP BY community_id, gate_id, actor, detail->>'team') t"
        " GROUP BY community_id, gate_id", (*args, start, end)).fetchall()
    waiting = conn.execute(
        f"SELECT community_id, gate_id, count(*) AS n FROM parcels WHERE {scope}"
        " checked_in_at < %s AND (closed_at IS NULL OR closed_at >= %s)"
        " GROUP BY community_id, gate_id", (*args, end, end)).fetchall()
    per_gate = {(g["community_id"], g["id"]): dict.fromkeys(TOTALS, 0) for g in gates}

    def of(row: dict[str, Any]) -> dict[str, int]:
        return per_gate.setdefault((row["community_id"], row["gate_id"]),
                                   dict.fromkeys(TOTALS, 0))

    for row in counted:
        of(row)[COUNTED_EVENTS[row["kind"]]] += row["n"]
    for rows, key in ((escalated, "escalated"), (waiting, "waiting")):
        for row in rows:
            of(row)[key] = int(row["n"])
    return per_gate


def summed(rows: list[dict[str, int]]) -> dict[str, int]:
    """The ``TOTALS`` of ``rows`` added up: a compound's of its gates, a district's of its
    compounds."""
    return {key: sum(r[key] for r in rows) for key in TOTALS}


def compound_counts(conn: psycopg.Connection, community: str, day: date,
                    timezone: tzinfo) -> dict[str, Any]:
    """A day's numbers for the whole compound and per gate: the keys of a gate's
    ``kiosk.queries.daily_counts`` totals, counted the same way from the gates' events, so
    that the compound's totals are the sum of what each gate's own `shelf counts` says."""
    start, end = day_span(day, timezone)
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        per_gate = gate_counts(conn, start, end, community)
    gates = [{"gate": gate, **c} for (_, gate), c in per_gate.items()]
    return {"date": day.isoformat(), "timezone": getattr(timezone, "key", None) or str(timezone),
            "from": start.isoformat(), "to": end.isoformat(), "community": community,
            "totals": summed(gates), "gates": gates}


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
