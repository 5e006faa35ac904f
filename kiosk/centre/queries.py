"""The compound's read side at the centre: plain SQL over the gates' mirrors, by community.

The mirrors have the gate's own names and shapes (``parcels``, ``events``, ``door_tasks``,
``door_task_parcels``) plus ``community_id``, ``gate_id`` and the epoch a row was made in,
so a gate's query reads here with ``WHERE community_id = %s`` (and ``gate_id`` to split).
What these return has the keys of the gate's read model of the same name
(``kiosk.queries``), times as the same UTC ISO text, plus ``gate`` (and ``origin``, the
epoch a parcel or task was made in: with the gate and its id, its key at the centre), so the
same templates draw a gate's pages and the compound's. Every statement names the community
(but ``counted_rows`` for the district, which reads every one).
This module: the shelf of every gate, its counts, what the sync found; ``kiosk.centre.follow``
finds and follows parcels; ``kiosk.centre.visits`` is the door visits.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kiosk.centre.db import COUNTS_LOCK, one_snapshot, unavailable_as_shelf_error
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
    each gate's own `shelf counts` says for the day (each gate's as ``kept_rows`` keeps it)."""
    return tallied(kept_rows(conn, day, timezone, community), community, day, timezone, teams)


def counted_rows(conn: psycopg.Connection, day: date, timezone: tzinfo,
                 community: str | None = None, *,
                 gates: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """What a day's counts are tallied from, for one community or (None) every one (the
    district), or only ``gates`` (community, gate) of those: ``gates`` registered, the day's
    ``events`` grouped by community, gate, kind, actor and team, the parcels ``waiting`` at
    its end per gate and those of each team's tasks (``team_waiting``). Run it inside a
    snapshot."""
    start, end = day_span(day, timezone)
    scope = "{t}community_id = %(c)s AND" if community is not None else ""
    if gates is not None:  # a join on the gates asked for (a few, or most of the district)
        scope += f" {AMONG_GATES} AND"
    span = {"c": community, "start": start, "end": end, "kinds": list(COUNTED_KINDS),
            **_gate_pairs(gates)}
    mine = scope.format(t="")
    return {
        "gates": [(r["community_id"], r["id"]) for r in conn.execute(
            f"SELECT community_id, id FROM gates WHERE {mine.replace('gate_id', 'id')} TRUE"
            " ORDER BY community_id, id", span)],
        # By task first, then without (a count(DISTINCT) would sort the day's events whole);
        # in order, as the teams acting that day are listed in the order met.
        "events": conn.execute(
            "SELECT community_id, gate_id, kind, actor, team, sum(n)::bigint AS n,"
            " count(task) AS tasks FROM (SELECT community_id, gate_id, kind, actor,"
            " detail->>'team' AS team, detail->>'task' AS task, count(*) AS n FROM events"
            f" WHERE {mine} at >= %(start)s AND at < %(end)s AND kind = ANY(%(kinds)s)"
            " GROUP BY 1, 2, 3, 4, 5, 6) by_task GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
            span).fetchall(),
        "waiting": {(r["community_id"], r["gate_id"]): r["n"] for r in conn.execute(
            f"SELECT community_id, gate_id, count(*) AS n FROM parcels WHERE {mine}"
            " checked_in_at < %(end)s AND (closed_at IS NULL OR closed_at >= %(end)s)"
            " GROUP BY community_id, gate_id", span)},
        "team_waiting": conn.execute(TEAM_WAITING.format(scope=scope.format(t="t.")),
                                     span).fetchall(),
    }


# Rows of some gates only: (community, gate) among the pairs ``_gate_pairs`` gives as
# parameters; {t} is the table's alias and dot, or nothing.
AMONG_GATES = ("({t}community_id, {t}gate_id) IN (SELECT * FROM unnest(%(cs)s::text[],"
               " %(gs)s::text[]))")


def _gate_pairs(gates: list[tuple[str, str]] | None) -> dict[str, list[str]]:
    """``AMONG_GATES``'s parameters: the communities and the gates, side by side."""
    return {"cs": [c for c, _ in gates or ()], "gs": [g for _, g in gates or ()]}


def zone_name(timezone: tzinfo) -> str:
    """How a day's timezone is named in what is shown and kept (``Asia/Shanghai``)."""
    return getattr(timezone, "key", None) or str(timezone)


def kept_rows(conn: psycopg.Connection, day: date, timezone: tzinfo,
              community: str | None = None) -> dict[str, Any]:
    """``counted_rows`` of one community or (None) every one, from what was kept of the day
    per gate (``day_counts``): today's as well as a closed day's. A gate's kept day stays
    until a batch of that gate could change it (``kiosk.centre.intake`` drops it in the
    batch's own transaction: today's at every batch the gate sends today), so only the gates
    whose kept day is missing are counted again, and kept, under COUNTS_LOCK taken alone: no
    batch is applied while they are read, so what is kept misses none (the batches after it
    drop what they change). Each gate's numbers are its own as of one moment; the sum of a
    compound's is the sum of its gates', as ever."""
    args = {"c": community, "day": day, "zone": zone_name(timezone)}
    with one_snapshot(conn):
        gates = [(r["community_id"], r["id"]) for r in conn.execute(
            "SELECT community_id, id FROM gates WHERE (%(c)s::text IS NULL"
            " OR community_id = %(c)s) ORDER BY community_id, id", args)]
        kept = _kept(conn, args)
    missing = [gate for gate in gates if gate not in kept]
    if missing:
        with unavailable_as_shelf_error(), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (COUNTS_LOCK,))
            kept.update(_kept(conn, args, missing))  # what other readings kept meanwhile
            missing = [gate for gate in missing if gate not in kept]
            if missing:  # read committed, nothing committing
                kept.update(_keep(conn, day, timezone,
                                  counted_rows(conn, day, timezone, gates=missing)))
    # In counted_rows' order (by community, gate): each gate's events are kept in it.
    return {"gates": gates, "events": [e for g in gates for e in kept[g]["events"]],
            "waiting": {g: kept[g]["waiting"] for g in gates if kept[g]["waiting"]},
            "team_waiting": [t for g in gates for t in kept[g]["team_waiting"]]}


def _kept(conn: psycopg.Connection, args: dict[str, Any],
          gates: list[tuple[str, str]] | None = None) -> dict[tuple[str, str], Any]:
    """What is kept of the day (``args``) for each gate of ``args["c"]`` (None: every one), or
    of ``gates``, that has it."""
    only = " AND " + AMONG_GATES.format(t="") if gates is not None else ""
    return {(r["community_id"], r["gate_id"]): r["counted"] for r in conn.execute(
        "SELECT community_id, gate_id, counted FROM day_counts WHERE day = %(day)s"
        " AND timezone = %(zone)s AND (%(c)s::text IS NULL OR community_id = %(c)s)" + only,
        {**args, **_gate_pairs(gates)})}


def _keep(conn: psycopg.Connection, day: date, timezone: tzinfo,
          read: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Keep ``read`` per gate, in place of what was kept of the day; what each gate's is."""
    end = day_span(day, timezone)[1]
    parts = split_by_community(read)
    counted: dict[tuple[str, str], dict[str, Any]] = {}
    for community, gate in read["gates"]:
        part = parts[community]
        counted[(community, gate)] = {
            "events": [e for e in part["events"] if e["gate_id"] == gate],
            "waiting": part["waiting"].get((community, gate), 0),
            "team_waiting": [t for t in part["team_waiting"] if t["gate_id"] == gate]}
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO day_counts (community_id, gate_id, day, timezone, ends_at, counted,"
            " counted_at) VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (day, timezone,"
            " community_id, gate_id) DO UPDATE SET ends_at = EXCLUDED.ends_at,"
            " counted = EXCLUDED.counted, counted_at = EXCLUDED.counted_at",
            [(community, gate, day, zone_name(timezone), end, Jsonb(c))
             for (community, gate), c in counted.items()])
    return counted


def split_by_community(read: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``counted_rows`` of several communities as one of each (``tallied`` then reads each
    compound's own rows, not the district's again for every compound)."""
    parts: dict[str, dict[str, Any]] = {}

    def part(community: str) -> dict[str, Any]:
        return parts.setdefault(community, {"gates": [], "events": [], "waiting": {},
                                            "team_waiting": []})

    for community, gate in read["gates"]:
        part(community)["gates"].append((community, gate))
    for row in read["events"]:
        part(row["community_id"])["events"].append(row)
    for (community, gate), n in read["waiting"].items():
        part(community)["waiting"][(community, gate)] = n
    for row in read["team_waiting"]:
        part(row["community_id"])["team_waiting"].append(row)
    return parts


def tallied(read: dict[str, Any], community: str, day: date, timezone: tzinfo,
            teams: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """One community's day from ``counted_rows`` (of it alone, or of the district): the
    compound's counts by ``tally_counts``, and each gate's totals by the same."""
    events = [e for e in read["events"] if e["community_id"] == community]
    waiting = {gate: n for (c, gate), n in read["waiting"].items() if c == community}
    gates = [gate for c, gate in read["gates"] if c == community]
    gates += sorted({e["gate_id"] for e in events} - set(gates))
    counts = tally_counts(day, timezone, events, sum(waiting.values()),
                          [r for r in read["team_waiting"] if r["community_id"] == community],
                          teams)
    per_gate = []
    for gate in gates:
        own = tally_counts(day, timezone, [e for e in events if e["gate_id"] == gate],
                           waiting.get(gate, 0), [])
        per_gate.append({"gate": gate, **own["totals"]})
    return {"date": counts["date"], "timezone": counts["timezone"], "from": counts["from"],
            "to": counts["to"], "community": community, "totals": counts["totals"],
            "gates": per_gate, "teams": counts["teams"], "people": counts["people"]}


def summed(rows: list[dict[str, int]]) -> dict[str, int]:
    """The ``TOTALS`` of ``rows`` added up: a district's of its compounds'."""
    return {key: sum(r[key] for r in rows) for key in TOTALS}


# ``kiosk.queries.TEAM_WAITING`` on the mirrors: the parcels waiting at the day's end in the
# door tasks open then, by the team holding each task then (each gate's tasks, its events);
# ``{scope}`` names the community, or is empty for every one (the district).
TEAM_WAITING = """
    SELECT t.community_id, t.gate_id, CASE WHEN t.assigned_at < %(end)s THEN t.team ELSE COALESCE(
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
    WHERE {scope} t.created_at < %(end)s
      AND (t.closed_at IS NULL OR t.closed_at >= %(end)s)
      AND p.checked_in_at < %(end)s AND (p.closed_at IS NULL OR p.closed_at >= %(end)s)
    GROUP BY 1, 2, 3"""


def open_alarms(conn: psycopg.Connection, community: str) -> list[dict[str, Any]]:
    """What the sync found that needs a person (a gate restored, rewound, a record that
    differs), newest first."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT id, gate_id, at, kind, epoch, seq, detail FROM sync_alarms"
            " WHERE community_id = %s AND resolved_at IS NULL ORDER BY id DESC LIMIT 50",
            (community,)).fetchall()
