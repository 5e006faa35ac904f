"""What must hold between a gate and its centre, whatever was killed when (the sync proof).

At any moment (``at_any_moment``): the gate has never been told the centre holds a record it
does not (its ``acked`` is at most the centre's ``applied``); the centre holds each epoch's
records from its base on, each once, with no gap; each of the centre's commands the gate
has applied left one outcome there, no more. Once the sync has caught up (``caught_up``):
every journal record of every epoch is at the centre exactly once and as the gate wrote it;
the centre's copies of parcels, door tasks, their parcels and events equal the gate's rows;
every command was applied or refused once, as the centre says; the day's counts agree; and
the centre raised no alarm (a kill is not a restore).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import date, datetime, tzinfo
from typing import Any

import psycopg

from kiosk.centre.queries import TOTALS, compound_counts
from kiosk.queries import daily_counts

OUTCOMES = ("command_applied", "command_refused")

# The gate's rows as the centre mirrors them: (table, key, columns compared).
MIRRORED = {
    "parcels": ("origin, id", "label, ref, household_id, slot_code, status, kind, symbology,"
                " room_confirmed, fresh, checked_in_at, closed_at"),
    "door_tasks": ("origin, id", "household_id, team, status, created_at, assigned_at,"
                   " fresh_since, escalations, closed_at, closed_by, closed_reason, told_at"),
}
BOOLEANS = {"room_confirmed", "fresh"}
TIMES = {"checked_in_at", "closed_at", "created_at", "assigned_at", "fresh_since", "told_at",
         "at"}


def at_any_moment(gate: sqlite3.Connection, pg: psycopg.Connection, community: str,
                  gate_id: str) -> list[str]:
    """The rules that hold even while a sync is half done; [] when all hold."""
    problems = []
    gate.execute("BEGIN")  # one snapshot of the gate
    try:
        state = gate.execute("SELECT epoch, acked, commands FROM sync_state").fetchone()
        outcomes = gate.execute(
            "SELECT json_extract(detail, '$.command') AS seq, count(*) AS n FROM events"
            f" WHERE kind IN {OUTCOMES} GROUP BY seq").fetchall()
    finally:
        gate.execute("COMMIT")
    # Read after the gate: the centre's count only grows, so a gate ahead of it is a loss.
    epochs = pg.execute(
        "SELECT e.epoch, e.base, e.applied, count(r.seq) AS held, min(r.seq) AS first,"
        " max(r.seq) AS last FROM gate_epochs e LEFT JOIN sync_records r ON"
        " (r.community_id, r.gate_id, r.epoch) = (e.community_id, e.gate_id, e.epoch)"
        " WHERE e.community_id = %s AND e.gate_id = %s GROUP BY e.epoch, e.base, e.applied",
        (community, gate_id)).fetchall()
    current = next((e for e in epochs if e["epoch"] == state["epoch"]), None)
    applied = current["applied"] if current else 0
    if state["acked"] > applied:
        problems.append(f"the gate counts records {applied + 1}..{state['acked']} as at the "
                        "centre, which does not hold them: lost")
    for e in epochs:
        if e["held"] != e["applied"] - e["base"] or (e["held"] and (
                e["first"] != e["base"] + 1 or e["last"] != e["applied"])):
            problems.append(f"epoch {e['epoch']}: applied {e['base'] + 1}..{e['applied']}, "
                            f"holds {e['held']} records ({e['first']}..{e['last']})")
    twice = [r["seq"] for r in outcomes if r["n"] > 1]
    if twice:
        problems.append(f"commands applied more than once at the gate: {twice[:5]}")
    done = {r["seq"] for r in outcomes}
    # The centre's commands up to where the gate says it has applied them (numbered from 1,
    # or further on: 64-bit, they need not start low).
    given = {r["seq"] for r in pg.execute(
        "SELECT seq FROM commands WHERE community_id = %s AND gate_id = %s AND seq <= %s",
        (community, gate_id, state["commands"]))}
    if done != given:
        problems.append(f"the gate says the centre's commands through {state['commands']} "
                        f"are applied ({len(given)}); it has outcomes for {len(done)}: "
                        f"missing {sorted(given - done)[:5]}, beyond {sorted(done - given)[:5]}")
    mirrored = pg.execute("SELECT id FROM events WHERE community_id = %s AND gate_id = %s"
                          " GROUP BY id HAVING count(*) > 1 LIMIT 5", (community, gate_id))
    doubled = [r["id"] for r in mirrored]
    if doubled:
        problems.append(f"the gate's events held twice at the centre: {doubled}")
    return problems


def caught_up(gate: sqlite3.Connection, pg: psycopg.Connection, community: str, gate_id: str,
              timezone: tzinfo) -> list[str]:
    """Everything, once the gate has nothing left to send and the centre nothing to command."""
    problems = at_any_moment(gate, pg, community, gate_id)
    problems += _records(gate, pg, community, gate_id)
    for table, (key, columns) in MIRRORED.items():
        problems += _mirror(gate, pg, community, gate_id, table, key, columns)
    problems += _task_parcels(gate, pg, community, gate_id)
    problems += _events(gate, pg, community, gate_id)
    problems += _commands(gate, pg, community, gate_id)
    problems += _counts(gate, pg, community, gate_id, timezone)
    alarms = pg.execute("SELECT kind, epoch, seq FROM sync_alarms WHERE community_id = %s",
                        (community,)).fetchall()
    if alarms:
        problems.append(f"alarms at the centre: {[tuple(a.values()) for a in alarms][:3]}")
    return problems


def _differ(what: str, gate: dict[Any, Any], centre: dict[Any, Any]) -> list[str]:
    """What two keyed sets of rows disagree on, in a line (or none)."""
    missing = sorted(set(gate) - set(centre), key=str)
    extra = sorted(set(centre) - set(gate), key=str)
    changed = sorted((k for k in set(gate) & set(centre) if gate[k] != centre[k]), key=str)
    if not (missing or extra or changed):
        return []
    first = changed[0] if changed else None
    return [f"{what}: {len(gate)} at the gate, {len(centre)} at the centre; missing there "
            f"{missing[:3]}, only there {extra[:3]}, different {changed[:3]}"
            + (f" (gate {gate[first]} / centre {centre[first]})" if first is not None else "")]


def _moment(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _row(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(bool(v) if k in BOOLEANS else _moment(v) if k in TIMES else v
                 for k, v in row.items())


def _records(gate: sqlite3.Connection, pg: psycopg.Connection, community: str,
             gate_id: str) -> list[str]:
    mine = {(r["epoch"], r["seq"]): (datetime.fromisoformat(r["at"]), r["kind"],
                                     json.loads(r["data"]))
            for r in gate.execute("SELECT epoch, seq, at, kind, data FROM sync_journal")}
    theirs = {(r["epoch"], r["seq"]): (r["at"], r["kind"], r["data"]) for r in pg.execute(
        "SELECT epoch, seq, at, kind, data FROM sync_records WHERE community_id = %s"
        " AND gate_id = %s", (community, gate_id))}
    return _differ("journal records", mine, theirs)


def _mirror(gate: sqlite3.Connection, pg: psycopg.Connection, community: str, gate_id: str,
            table: str, key: str, columns: str) -> list[str]:
    width = len(key.split(","))
    mine = {tuple(r)[:width]: _row(dict(r))[width:]
            for r in gate.execute(f"SELECT {key}, {columns} FROM {table}")}
    theirs = {tuple(r.values())[:width]: _row(r)[width:] for r in pg.execute(
        f"SELECT {key}, {columns} FROM {table} WHERE community_id = %s AND gate_id = %s",
        (community, gate_id))}
    return _differ(table, mine, theirs)


def _task_parcels(gate: sqlite3.Connection, pg: psycopg.Connection, community: str,
                  gate_id: str) -> list[str]:
    mine = {tuple(r): 1 for r in gate.execute(
        "SELECT t.origin, l.task_id, p.origin, l.parcel_id FROM door_task_parcels l"
        " JOIN door_tasks t ON t.id = l.task_id JOIN parcels p ON p.id = l.parcel_id")}
    theirs = {tuple(r.values()): 1 for r in pg.execute(
        "SELECT task_origin, task_id, parcel_origin, parcel_id FROM door_task_parcels"
        " WHERE community_id = %s AND gate_id = %s", (community, gate_id))}
    return _differ("door_task_parcels", mine, theirs)


def _events(gate: sqlite3.Connection, pg: psycopg.Connection, community: str,
            gate_id: str) -> list[str]:
    mine = {r["id"]: (datetime.fromisoformat(r["at"]), r["kind"], r["actor"], r["origin"],
                      r["parcel_id"], r["household_id"], r["slot_code"], json.loads(r["detail"]))
            for r in gate.execute("SELECT e.*, p.origin FROM events e"
                                  " LEFT JOIN parcels p ON p.id = e.parcel_id")}
    theirs = {r["id"]: (r["at"], r["kind"], r["actor"], r["parcel_origin"], r["parcel_id"],
                        r["household_id"], r["slot_code"], r["detail"]) for r in pg.execute(
        "SELECT id, at, kind, actor, parcel_origin, parcel_id, household_id, slot_code, detail"
        " FROM events WHERE community_id = %s AND gate_id = %s", (community, gate_id))}
    return _differ("events", mine, theirs)


def _commands(gate: sqlite3.Connection, pg: psycopg.Connection, community: str,
              gate_id: str) -> list[str]:
    issued = {r["seq"]: r["status"] for r in pg.execute(
        "SELECT seq, status FROM commands WHERE community_id = %s AND gate_id = %s",
        (community, gate_id))}
    outcomes = Counter()
    told = {}
    for r in gate.execute(f"SELECT kind, detail FROM events WHERE kind IN {OUTCOMES}"):
        seq = json.loads(r["detail"])["command"]
        outcomes[seq] += 1
        told[seq] = r["kind"].removeprefix("command_")
    problems = _differ("commands (centre's status / the gate's outcome)", told, issued)
    if any(n != 1 for n in outcomes.values()):
        problems.append(f"commands with several outcomes at the gate: "
                        f"{[s for s, n in outcomes.items() if n != 1][:5]}")
    applied = gate.execute("SELECT commands FROM sync_state").fetchone()[0]
    if applied != max(issued, default=0):
        problems.append(f"the gate applied commands through {applied}, the centre issued "
                        f"{max(issued, default=0)}")
    return problems


def _counts(gate: sqlite3.Connection, pg: psycopg.Connection, community: str, gate_id: str,
            timezone: tzinfo) -> list[str]:
    first, last = gate.execute("SELECT min(at), max(at) FROM events").fetchone()
    days = {datetime.fromisoformat(t).astimezone(timezone).date() for t in (first, last)}
    problems = []
    for day in sorted(days, key=date.toordinal):
        own = daily_counts(gate, day, timezone)["totals"]
        compound = compound_counts(pg, community, day, timezone)
        theirs = next(g for g in compound["gates"] if g["gate"] == gate_id)
        if {k: own[k] for k in TOTALS} != {k: theirs[k] for k in TOTALS}:
            problems.append(f"counts of {day}: the gate says {own}, the centre {theirs}")
    return problems
