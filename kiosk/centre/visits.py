"""The door visits of the compound, at the centre: one per household, whatever the gates.

A household with parcels at the north gate and the south gate has a door task at each (each
gate owns its own); the team makes one trip. So the centre lists **visits**: a household's
open door tasks at every gate together, each parcel with its gate named, in the shape of
``kiosk.queries.open_tasks`` and ``task_view`` (a visit's ``id`` is its household), so the
gate's templates draw them. A delivery confirmed at the door becomes one command per gate
(``kiosk.centre.commands.confirm_visit``); until a gate has applied its own, the visit says
so (``waiting``: the commands still pending) and stays on the list, its parcels still on
that shelf; a command a gate refused comes back in ``refused``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from kiosk.centre.db import one_snapshot
from kiosk.centre.follow import COMMAND_ROW, task_view
from kiosk.centre.queries import moment
from kiosk.domain import HouseholdId

RECENT = timedelta(days=1)  # a visit's closed tasks and refused commands shown this long

OPEN_TASKS = """
    SELECT t.gate_id, t.origin, t.id, t.household_id, t.team, t.created_at, t.assigned_at,
           t.fresh_since, t.escalations
    FROM door_tasks t
    WHERE t.community_id = %(c)s AND t.status = 'open'
      AND (%(h)s::text IS NULL OR t.household_id = %(h)s)"""
OPEN_TASK_PARCELS = """
    SELECT tp.gate_id, tp.task_origin, tp.task_id, p.origin, p.id, p.ref, p.slot_code, p.fresh,
           p.checked_in_at, p.kind
    FROM door_tasks t JOIN door_task_parcels tp ON tp.community_id = t.community_id
      AND tp.gate_id = t.gate_id AND tp.task_origin = t.origin AND tp.task_id = t.id
    JOIN parcels p ON p.community_id = tp.community_id AND p.gate_id = tp.gate_id
      AND p.origin = tp.parcel_origin AND p.id = tp.parcel_id
    WHERE t.community_id = %(c)s AND t.status = 'open' AND p.status = 'waiting'
      AND (%(h)s::text IS NULL OR t.household_id = %(h)s)
    ORDER BY p.checked_in_at, p.id"""
DELIVERIES = f"""{COMMAND_ROW}
    WHERE community_id = %(c)s AND kind = 'deliver'
      AND (%(h)s::text IS NULL OR payload->>'household' = %(h)s)
      AND (status = 'pending' OR done_at >= %(since)s)
    ORDER BY created_at, gate_id, seq"""


def open_visits(conn: psycopg.Connection, community: str, now: datetime,
                team: str | None = None) -> list[dict[str, Any]]:
    """The open door visits (of one team's tasks, or all), grouped by building, in the shape
    of ``kiosk.queries.open_tasks``: fresh food first, then the oldest. Each visit lists its
    ``tasks`` (gate, origin, id, team), its waiting parcels at every gate (each with its
    ``gate``), ``slots`` as (gate, slot) pairs, and the deliveries confirmed here that a gate
    has not applied yet (``waiting``) or refused (``refused``, in the last day)."""
    args = {"c": community, "h": None, "since": now - RECENT}
    with one_snapshot(conn):
        tasks = conn.execute(OPEN_TASKS, args).fetchall()
        parcels = conn.execute(OPEN_TASK_PARCELS, args).fetchall()
        deliveries = conn.execute(DELIVERIES, args).fetchall()
    visits = _visits(tasks, parcels, deliveries)
    if team is not None:
        visits = [v for v in visits if team in v["teams"]]
    visits.sort(key=lambda v: (not v["fresh"], v["created_at"], v["household"]))
    buildings: dict[int, list[dict[str, Any]]] = {}
    for visit in visits:
        buildings.setdefault(HouseholdId.parse(visit["household"]).building, []).append(visit)
    return [{"building": b, "tasks": items} for b, items in buildings.items()]


def recent_refusals(conn: psycopg.Connection, community: str,
                    now: datetime) -> list[dict[str, Any]]:
    """Deliveries confirmed here that a gate refused in the last day, newest first."""
    args = {"c": community, "h": None, "since": now - RECENT}
    with one_snapshot(conn):
        rows = conn.execute(DELIVERIES, args).fetchall()
    return sorted((_command(r) for r in rows if r["status"] == "refused"),
                  key=lambda c: c["done_at"] or "", reverse=True)


def _visits(tasks: list[dict[str, Any]], parcels: list[dict[str, Any]],
            deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_task: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for p in parcels:
        by_task.setdefault((p["gate_id"], p["task_origin"], p["task_id"]), []).append({
            "id": p["id"], "ref": p["ref"], "slot": p["slot_code"], "fresh": bool(p["fresh"]),
            "checked_in_at": moment(p["checked_in_at"]), "kind": p["kind"],
            "gate": p["gate_id"], "origin": p["origin"], "status": "waiting"})
    visits: dict[str, dict[str, Any]] = {}
    for t in sorted(tasks, key=lambda t: (t["created_at"], t["gate_id"], t["id"])):
        household = t["household_id"]
        visit = visits.setdefault(household, {
            "id": household, "household": household,
            "room": HouseholdId.parse(household).room, "team": t["team"], "teams": [],
            "fresh": False, "created_at": moment(t["created_at"]),
            "assigned_at": moment(t["assigned_at"]), "escalations": 0, "tasks": [],
            "parcels": [], "slots": [], "gates": [], "waiting": [], "refused": []})
        visit["tasks"].append({"gate": t["gate_id"], "origin": t["origin"], "id": t["id"],
                               "team": t["team"]})
        visit["teams"] = list(dict.fromkeys([*visit["teams"], t["team"]]))
        visit["fresh"] = visit["fresh"] or t["fresh_since"] is not None
        visit["escalations"] = max(visit["escalations"], t["escalations"])
        items = by_task.get((t["gate_id"], t["origin"], t["id"]), [])
        visit["parcels"] += items
        visit["slots"] = list(dict.fromkeys([*visit["slots"],
                                             *((p["gate"], p["slot"]) for p in items)]))
        visit["gates"] = list(dict.fromkeys([*visit["gates"], t["gate_id"]]))
    for row in deliveries:
        visit = visits.get(row["payload"].get("household"))
        if visit is None:
            continue
        command = _command(row)
        if command["status"] == "pending":
            visit["waiting"].append(command)
        elif command["status"] == "refused" and command["done_at"] >= visit["created_at"]:
            visit["refused"].append(command)
    return list(visits.values())


def _command(row: dict[str, Any]) -> dict[str, Any]:
    result = row["result"] or {}
    return {"gate": row["gate_id"], "seq": row["seq"], "kind": row["kind"],
            "status": row["status"], "task": row["payload"].get("task"),
            "household": row["payload"].get("household"),
            "created_at": moment(row["created_at"]), "created_by": row["created_by"],
            "done_at": moment(row["done_at"]), "error": result.get("error"),
            "message": result.get("message")}


def visit_view(conn: psycopg.Connection, community: str, household: str,
               now: datetime) -> dict[str, Any] | None:
    """One household's door visit, in the shape of ``kiosk.queries.task_view`` (``id``: the
    household): its open tasks at every gate with their parcels; else, in the last day, the
    tasks closed (``status`` delivered or cancelled, ``closed_at``, ``closed_by``). With
    ``waiting`` and ``refused`` (the deliveries confirmed here), ``open_tasks`` (those that
    wait for no command: what a door confirmation would deliver) and ``tasks``. None when
    the household has no visit open nor closed in the last day."""
    args = {"c": community, "h": household, "since": now - RECENT}
    with one_snapshot(conn):
        open_rows = conn.execute(OPEN_TASKS, args).fetchall()
        closed_rows = [] if open_rows else conn.execute(
            "SELECT gate_id, origin, id FROM door_tasks WHERE community_id = %(c)s"
            " AND household_id = %(h)s AND status != 'open' AND closed_at >= %(since)s"
            " ORDER BY closed_at DESC", args).fetchall()
        tasks = [task_view(conn, community, r["gate_id"], r["origin"], r["id"])
                 for r in (open_rows or closed_rows)]
        deliveries = conn.execute(DELIVERIES, args).fetchall()
    tasks = [t for t in tasks if t is not None]
    if not tasks:
        return None
    commands = [_command(r) for r in deliveries]
    waiting = [c for c in commands if c["status"] == "pending"]
    pending = {(c["gate"], c["task"]) for c in waiting}
    first = min(tasks, key=lambda t: t["created_at"])
    status = "open" if open_rows else tasks[0]["status"]
    parcels = [p for t in tasks for p in t["parcels"]
               if status != "open" or p["status"] == "waiting"]
    return {
        "id": household, "household": household, "status": status,
        "team": first["team"], "teams": list(dict.fromkeys(t["team"] for t in tasks)),
        "fresh": any(t["fresh"] for t in tasks), "created_at": first["created_at"],
        "assigned_at": first["assigned_at"],
        "escalations": max(t["escalations"] for t in tasks),
        "closed_at": None if open_rows else tasks[0]["closed_at"],
        "closed_by": None if open_rows else tasks[0]["closed_by"],
        "reason": None if open_rows else tasks[0]["reason"],
        "parcels": parcels, "tasks": tasks,
        "open_tasks": [t for t in tasks if t["status"] == "open"
                       and (t["gate"], t["id"]) not in pending],
        "waiting": waiting,
        "refused": [c for c in commands if c["status"] == "refused"
                    and c["done_at"] >= first["created_at"]],
        "gates": list(dict.fromkeys(t["gate"] for t in tasks)),
    }
