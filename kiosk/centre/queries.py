"""The compound's read side at the centre: plain SQL over the gates' mirrors, by community.

The mirrors have the gate's own names and shapes (``parcels``, ``events``, ``door_tasks``,
``door_task_parcels``) plus ``community_id``, ``gate_id`` and the epoch a row was made in,
so a gate's query reads here with ``WHERE community_id = %s`` (and ``gate_id`` to split).
What these return has the keys of the gate's read model of the same name
(``kiosk.queries``), times as the same UTC ISO text, plus ``gate`` (and ``origin``, the
epoch a parcel or task was made in: with the gate and its id, its key at the centre), so the
same templates draw a gate's pages and the compound's. Every statement names the community.
This module: the shelf of every gate, its counts, what the sync found; ``kiosk.centre.follow``
finds and follows parcels; ``kiosk.centre.visits`` is the door visits.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

import psycopg

from kiosk.centre.db import one_snapshot, unavailable_as_shelf_error
from kiosk.queries import COUNTED_KINDS, TOTAL_COUNTS, day_span, tally_counts
from kiosk.timefmt import iso

TOTALS = TOTAL_COUNTS  # the keys of a day's totals, per gate and for the compound

# A waiting parcel as the shelf shows it; a household the centre's list lacks is no door's.
SHELF_PARCEL = """
    SELECT p.gate_id, p.origin, p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at,
           p.kind, p.room_confirmed, p.fresh,
           COALESCE(h.under_observation, false) AS under_observation
    FROM parcels p LEFT JOIN households h
      ON h.community_id = p.community_id AND h.id = p.household_id"""
# The oldest ``limit`` waiting parcels of each slot of each gate (the waiting-parcels index).
FIRST_WAITING = f"""
    SELECT * FROM (
        SELECT x.*, row_number() OVER (PARTITION BY x.gate_id, x.slot_code
                                       ORDER BY x.checked_in_at, x.id) AS nth
        FROM ({SHELF_PARCEL} WHERE p.community_id = %(c)s AND p.status = 'waiting'
              AND (%(gate)s::text IS NULL OR p.gate_id = %(gate)s)
              AND (%(slot)s::text IS NULL OR p.slot_code = %(slot)s)) x) y
    WHERE %(limit)s::int IS NULL OR nth <= %(limit)s ORDER BY gate_id, checked_in_at, id"""
# Per slot of each gate: how many wait, since when the oldest, whether one goes to a door.
SLOT_FLAGS = """
    SELECT p.gate_id, p.slot_code, count(*) AS n, min(p.checked_in_at) AS oldest,
           bool_or(COALESCE(h.under_observation, false)) AS door
    FROM parcels p LEFT JOIN households h
      ON h.community_id = p.community_id AND h.id = p.household_id
    WHERE p.community_id = %(c)s AND p.status = 'waiting'
      AND (%(gate)s::text IS NULL OR p.gate_id = %(gate)s)
    GROUP BY p.gate_id, p.slot_code"""
GATES = """
    SELECT id, name, status->'names' AS names, epoch, schema_version, last_sync_at, pending,
           oldest_pending_at, last_command, commands_applied, status
    FROM gates WHERE community_id = %(c)s AND (%(gate)s::text IS NULL OR id = %(gate)s)
    ORDER BY id"""


def moment(value: datetime | None) -> str | None:
    """A time read here as the gates store it: UTC ISO-8601 text (None stays None)."""
    return iso(value) if value is not None else None


def shelf_parcel(row: dict[str, Any]) -> dict[str, Any]:
    """A waiting parcel as an item of ``kiosk.queries.slots_view``'s ``parcels``."""
    return {"id": row["id"], "household": row["household_id"], "ref": row["ref"],
            "checked_in_at": moment(row["checked_in_at"]),
            "door_delivery": bool(row["under_observation"]), "kind": row["kind"],
            "room_confirmed": bool(row["room_confirmed"]), "fresh": bool(row["fresh"]),
            "gate": row["gate_id"], "origin": row["origin"]}


def compound_shelf(conn: psycopg.Connection, community: str, *, gate: str | None = None,
                   slot: str | None = None,
                   parcels_per_slot: int | None = None) -> list[dict[str, Any]]:
    """Every gate of the compound (or ``gate`` alone) with its slots as ``slots_view`` gives
    them (``slot`` alone: that one), as the gate's last sync said: its layout (``layout``:
    ``slots``, ``shelves``' and the ``overflow`` place's names) and the parcels waiting, each
    slot's oldest ``parcels_per_slot`` (all: None) while ``count`` counts them all; and
    ``flags`` per slot code, as ``kiosk.queries.slot_flags``. A slot that holds parcels but
    that the gate no longer reports is kept (the parcels are on the shelf all the same).
    Each gate has its row of ``gates`` too (its names, its health)."""
    args = {"c": community, "gate": gate, "slot": slot, "limit": parcels_per_slot}
    with one_snapshot(conn):
        gates = conn.execute(GATES, args).fetchall()
        parcels = conn.execute(FIRST_WAITING, args).fetchall()
        flags = conn.execute(SLOT_FLAGS, args).fetchall()
    listed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in parcels:
        listed.setdefault((row["gate_id"], row["slot_code"]), []).append(shelf_parcel(row))
    held = {(r["gate_id"], r["slot_code"]): r for r in flags}
    shown = []
    for row in gates:
        layout = (row["status"] or {}).get("layout") or {}
        slots = [dict(s) for s in layout.get("slots") or []]
        known = {s["code"] for s in slots}
        slots += [{"code": code, "shelf": "", "capacity": None, "buildings": "",
                   "overflow": False} for (g, code) in sorted(held) if g == row["id"]
                  and code not in known]
        if slot is not None:
            slots = [s for s in slots if s["code"] == slot]
        for s in slots:
            counted = held.get((row["id"], s["code"]))
            s.update(gate=row["id"], light=None, count=counted["n"] if counted else 0,
                     parcels=listed.get((row["id"], s["code"]), []))
        shown.append({**row, "layout": layout, "slots": slots,
                      "flags": {code: {"oldest": moment(r["oldest"]), "door": r["door"]}
                                for (g, code), r in held.items() if g == row["id"]}})
    return shown


def grid_state(conn: psycopg.Connection, community: str) -> tuple[Any, ...]:
    """What the compound's grid shows changes only with one of these: a gate's records
    applied (every check-in, pickup, command applied or refused), a command given, an alarm
    raised or resolved, the household list (who gets door delivery) changed, or a gate's row
    (its layout, its health: the caller reads those whole). Four small reads."""
    with one_snapshot(conn):
        row = conn.execute(
            "SELECT (SELECT COALESCE(sum(applied), 0) FROM gate_epochs"
            "        WHERE community_id = %(c)s) AS applied,"
            " (SELECT COALESCE(sum(last_command), 0) FROM gates"
            "        WHERE community_id = %(c)s) AS commands,"
            " (SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM sync_alarms"
            "        WHERE community_id = %(c)s AND resolved_at IS NULL) AS alarms,"
            " (SELECT max(updated_at) FROM households WHERE community_id = %(c)s) AS households",
            {"c": community}).fetchone()
    return (int(row["applied"]), int(row["commands"]), tuple(row["alarms"]),
            moment(row["households"]))


def compound_counts(conn: psycopg.Connection, community: str, day: date, timezone: tzinfo,
                    teams: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A day's numbers for the whole compound, with ``kiosk.queries.daily_counts``'s keys
    (``totals``, ``teams``, ``people``) counted by its very ``tally_counts`` from the gates'
    events, plus ``gates``: each gate's totals. The compound's numbers are the sum of what
    each gate's own `shelf counts` says for the day."""
    start, end = day_span(day, timezone)
    span = {"c": community, "start": start, "end": end, "kinds": list(COUNTED_KINDS)}
    with one_snapshot(conn):
        gates = [r["id"] for r in conn.execute(
            "SELECT id FROM gates WHERE community_id = %(c)s ORDER BY id", span)]
        events = conn.execute(
            "SELECT gate_id, kind, actor, detail->>'team' AS team, count(*) AS n,"
            " count(DISTINCT detail->>'task') AS tasks FROM events WHERE community_id = %(c)s"
            " AND at >= %(start)s AND at < %(end)s AND kind = ANY(%(kinds)s)"
            " GROUP BY gate_id, kind, actor, detail->>'team'", span).fetchall()
        waiting = {r["gate_id"]: r["n"] for r in conn.execute(
            "SELECT gate_id, count(*) AS n FROM parcels WHERE community_id = %(c)s"
            " AND checked_in_at < %(end)s AND (closed_at IS NULL OR closed_at >= %(end)s)"
            " GROUP BY gate_id", span)}
        team_waiting = conn.execute(TEAM_WAITING, span).fetchall()
    gates += sorted({r["gate_id"] for r in events} - set(gates))
    counts = tally_counts(day, timezone, events, sum(waiting.values()), team_waiting, teams)
    per_gate = []
    for gate in gates:
        own = tally_counts(day, timezone, [e for e in events if e["gate_id"] == gate],
                           waiting.get(gate, 0), [])
        per_gate.append({"gate": gate, **own["totals"]})
    return {"date": counts["date"], "timezone": counts["timezone"], "from": counts["from"],
            "to": counts["to"], "community": community, "totals": counts["totals"],
            "gates": per_gate, "teams": counts["teams"], "people": counts["people"]}


# ``kiosk.queries.TEAM_WAITING`` on the mirrors: the parcels waiting at the day's end in the
# door tasks open then, by the team holding each task then (each gate's tasks, its events).
TEAM_WAITING = """
    SELECT t.gate_id, CASE WHEN t.assigned_at < %(end)s THEN t.team ELSE COALESCE(
               (SELECT e.detail->>'to' FROM events e
                WHERE e.community_id = t.community_id AND e.gate_id = t.gate_id
                  AND e.detail ? 'task' AND e.detail->>'task' = t.id::text
                  AND e.at >= t.created_at AND e.at < %(end)s AND e.kind = 'task_handed_over'
                ORDER BY e.at DESC, e.id DESC LIMIT 1),
               (SELECT e.detail->>'team' FROM events e
                WHERE e.community_id = t.community_id AND e.gate_id = t.gate_id
                  AND e.detail ? 'task' AND e.detail->>'task' = t.id::text
                  AND e.at = t.created_at AND e.kind = 'task_opened' LIMIT 1),
               t.team) END AS team,
           count(*) AS n
    FROM door_tasks t JOIN door_task_parcels tp ON tp.community_id = t.community_id
      AND tp.gate_id = t.gate_id AND tp.task_origin = t.origin AND tp.task_id = t.id
    JOIN parcels p ON p.community_id = tp.community_id AND p.gate_id = tp.gate_id
      AND p.origin = tp.parcel_origin AND p.id = tp.parcel_id
    WHERE t.community_id = %(c)s AND t.created_at < %(end)s
      AND (t.closed_at IS NULL OR t.closed_at >= %(end)s)
      AND p.checked_in_at < %(end)s AND (p.closed_at IS NULL OR p.closed_at >= %(end)s)
    GROUP BY 1, 2"""


def open_alarms(conn: psycopg.Connection, community: str) -> list[dict[str, Any]]:
    """What the sync found that needs a person (a gate restored, rewound, a record that
    differs), newest first."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT id, gate_id, at, kind, epoch, seq, detail FROM sync_alarms"
            " WHERE community_id = %s AND resolved_at IS NULL ORDER BY id DESC LIMIT 50",
            (community,)).fetchall()
