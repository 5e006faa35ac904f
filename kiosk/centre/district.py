"""The district's read side: every compound of the centre at once, for the sub-district office.

``district_counts`` is a day of every compound, read by the centre's own
``kiosk.centre.queries.counted_rows`` in one snapshot and tallied per compound and per gate
as `shelf counts` tallies (``tallied``, on ``kiosk.queries.tally_counts``): a district's
totals are the sum of its compounds', which are the sum of their gates' (the same rows added
up, never counted twice another way). ``district_now`` is the dashboard: per compound what
waits now, what is late, what failed, and how its gates fare, compounds needing attention
first. ``district_search`` finds a room, a waybill or a phone's last digits in every compound.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import psycopg

from kiosk.catalogue import LANGUAGES
from kiosk.centre.db import one_snapshot, unavailable_as_shelf_error
from kiosk.centre.district_staff import teams_served
from kiosk.centre.gates import gate_health
from kiosk.centre.queries import (
    counted_rows,
    kept_rows,
    split_by_community,
    summed,
    tallied,
    zone_name,
)
from kiosk.domain import HouseholdId, mask_phone
from kiosk.errors import ShelfError
from kiosk.queries import PERSON_COUNTS, day_span
from kiosk.timefmt import iso

# A gate is "down" on the dashboard when it is quiet (``kiosk.centre.gates.SYNC_QUIET``), its
# camera is lost, or its kiosk's heartbeat is older than this (its sync reports the heartbeat's
# age).
HEARTBEAT_LATE_S = 300.0


def compounds(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The centre's compounds that have a gate, by id, with their names."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT c.id, c.name FROM communities c WHERE EXISTS (SELECT 1 FROM gates g"
            " WHERE g.community_id = c.id) ORDER BY c.id").fetchall()


def district_counts(conn: psycopg.Connection, day: date, timezone: tzinfo, *,
                    live: bool = False) -> dict[str, Any]:
    """A day of every compound: ``compounds`` (each with the keys of the centre's `shelf
    counts`: totals, gates, teams, people, and its name), the district's ``totals``, and
    ``people``: per person, per compound and team, what they checked in, delivered and
    handed out (reinforcement staff credited to the team their assignment gave them in that
    compound). Each gate's day is read from what was kept of it (``kept_rows``: today's too,
    counted again only for the gates that sent records since), or, ``live``, counted again
    for every gate in one snapshot and kept nowhere (what the kept days are checked against)."""
    start, end = day_span(day, timezone)
    read = None if live else kept_rows(conn, day, timezone)
    with one_snapshot(conn):
        known = compounds(conn)
        read = read or counted_rows(conn, day, timezone)
        lent = teams_served(conn, start, end)
    parts = split_by_community(read)
    shown = [{**tallied(parts.get(row["id"], read), row["id"], day, timezone),
              "name": row["name"]} for row in known]
    return {"date": day.isoformat(), "timezone": zone_name(timezone),
            "from": iso(start), "to": iso(end), "compounds": shown,
            "totals": summed([c["totals"] for c in shown]), "people": _people(shown, lent)}


def _people(shown: list[dict[str, Any]],
            lent: dict[tuple[str, str], str | None]) -> list[dict[str, Any]]:
    """Every compound's ``people``, each with its compound, a reinforcement's rows under the
    team they served there; who delivered most first."""
    people: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for compound in shown:
        community = compound["community"]
        for row in compound["people"]:
            username = row["person"].split("@", 1)[0].lower()
            served = lent.get((community, username), "")
            team = row["team"] or served or None
            person = people.setdefault((community, row["person"], team), {
                "person": row["person"], "community": community, "team": team,
                "reinforcement": served != "", **dict.fromkeys(PERSON_COUNTS, 0)})
            for key in PERSON_COUNTS:
                person[key] += row[key]
    return sorted(people.values(), key=lambda p: (-p["delivered"], -p["handed_out"],
                                                  p["community"], p["person"]))


# How /district may be sorted: the key, and whether the largest comes first. Every order
# keeps compounds needing attention before the others on a tie, then goes by id.
SORTS = {"attention": ("attention", True), "name": ("community", False),
         "waiting": ("waiting", True), "tasks": ("tasks_open", True),
         "fresh": ("fresh_late", True), "failed": ("failed_notices", True),
         "gates": ("gates_down", True)}


def sorted_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """``rows`` of ``district_now`` in the order ``sort`` (a key of SORTS) names."""
    key, largest_first = SORTS.get(sort, SORTS["attention"])
    if not largest_first:
        return sorted(rows, key=lambda r: (r["name"] or r["community"], r["community"]))
    return sorted(rows, key=lambda r: (-r[key], -r["attention"], r["community"]))


def district_now(conn: psycopg.Connection, now: datetime, *,
                 fresh_escalate_s: int) -> list[dict[str, Any]]:
    """Each compound now: parcels waiting, door tasks open and the oldest, fresh food waiting
    longer than ``fresh_escalate_s``, failed notices, open sync alarms, and its gates (as
    their last sync said); those needing attention first, then by id."""
    late = now - timedelta(seconds=fresh_escalate_s)
    with one_snapshot(conn):
        known = compounds(conn)
        waiting = _by_community(conn.execute(
            "SELECT community_id, count(*) AS n FROM parcels WHERE status = 'waiting'"
            " GROUP BY community_id"))
        tasks = {r["community_id"]: r for r in conn.execute(
            "SELECT community_id, count(*) AS n, min(created_at) AS oldest,"
            " count(*) FILTER (WHERE fresh_since <= %s) AS fresh_late FROM door_tasks"
            " WHERE status = 'open' GROUP BY community_id", (late,))}
        alarms = _by_community(conn.execute(
            "SELECT community_id, count(*) AS n FROM sync_alarms WHERE resolved_at IS NULL"
            " GROUP BY community_id"))
        gates = conn.execute(GATE_HEALTH).fetchall()
    by_community: dict[str, list[dict[str, Any]]] = {}
    for g in gates:
        by_community.setdefault(g["community_id"], []).append(_gate(g, now))
    rows = []
    for row in known:
        community = row["id"]
        own = by_community.get(community, [])
        open_tasks = tasks.get(community, {})
        oldest = open_tasks.get("oldest")
        shown = {
            "community": community, "name": row["name"],
            "waiting": waiting.get(community, 0),
            "tasks_open": open_tasks.get("n", 0),
            "oldest_task_at": oldest.isoformat() if oldest else None,
            "oldest_task_age_s": round((now - oldest).total_seconds()) if oldest else None,
            "fresh_late": open_tasks.get("fresh_late", 0),
            "failed_notices": sum(g["failed_notices"] or 0 for g in own),
            "alarms": alarms.get(community, 0),
            "gates_down": sum(1 for g in own if g["down"]),
            "gates": own,
        }
        shown["attention"] = (shown["fresh_late"] * 100 + shown["gates_down"] * 10
                              + shown["alarms"] * 10 + shown["failed_notices"])
        rows.append(shown)
    return sorted(rows, key=lambda r: (-r["attention"], r["community"]))


def _by_community(rows: psycopg.Cursor) -> dict[str, int]:
    return {r["community_id"]: r["n"] for r in rows}


def _typed(key: str, json_type: str, sql_type: str) -> str:
    """A field of a gate's status as a column of its type (NULL unless the gate sent that)."""
    return (f"CASE WHEN jsonb_typeof(status->'{key}') = '{json_type}'"
            f" THEN (status->>'{key}')::{sql_type} END AS {key}")


# Each gate with only the fields of its status the dashboard shows, each a column of its type:
# at 400 gates, decoding each gate's status (most of a dashboard's cost, with its layout left
# out) took longer than PostgreSQL's whole reading. The status is read once per gate, without
# its layout (OFFSET 0 keeps the planner from reading the whole value again for every field).
STATUS_SHOWN = {"camera_lost": ("boolean", "boolean"), "lag_s": ("number", "float8"),
                "kiosk_heartbeat_age_s": ("number", "float8"),
                "outbox_failed": ("number", "numeric")}
GATE_HEALTH = (
    "SELECT community_id, id, name, last_sync_at, pending, last_command, commands_applied, "
    + ", ".join(f"status->'names'->>'{lang}' AS name_{lang}" for lang in LANGUAGES) + ", "
    + ", ".join(_typed(key, *types) for key, types in STATUS_SHOWN.items())
    + " FROM (SELECT community_id, id, name, last_sync_at, pending, last_command,"
    " commands_applied, status - 'layout' AS status FROM gates OFFSET 0) g"
    " ORDER BY community_id, id")


def _gate(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A gate's health (as the centre's /healthz says it), with its names, and whether the
    dashboard calls it down."""
    status = {key: row[key] for key in STATUS_SHOWN if row[key] is not None}
    if "outbox_failed" in status:
        status["outbox_failed"] = int(status["outbox_failed"])
    names = {lang: row[f"name_{lang}"] for lang in LANGUAGES if row[f"name_{lang}"]}
    health = {**gate_health({**row, "status": status}, now), "names": names}
    beat = health["kiosk_heartbeat_age_s"]
    health["kiosk_silent"] = beat is not None and beat > HEARTBEAT_LATE_S
    health["down"] = bool(health["quiet"] or health["camera_lost"] or health["kiosk_silent"])
    return health


SEARCH_LIMIT = 50
PHONE_TAIL = re.compile(r"\d{4}")


def district_search(conn: psycopg.Connection, text: str) -> dict[str, Any]:
    """Every compound at once, for the district: ``parcels`` by a room (``24-2304``, typed any
    way a room is) or a waybill (``ref``, whole or its start), newest first; ``households`` by
    a room or a phone's last four digits (the phone shown masked). At most SEARCH_LIMIT each."""
    said = " ".join(text.split())[:60]
    if not said:
        return {"query": "", "parcels": [], "households": []}
    try:
        room: str | None = str(HouseholdId.parse(said))
    except ShelfError:
        room = None
    tail = said if PHONE_TAIL.fullmatch(said) else None
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        parcels = conn.execute(
            "SELECT community_id, gate_id, origin, id, ref, household_id, slot_code, status,"
            " fresh, checked_in_at, closed_at FROM parcels WHERE household_id = %s"
            " OR ref LIKE %s ORDER BY checked_in_at DESC LIMIT %s",
            (room or "", said.upper().replace("%", "").replace("_", "\\_") + "%",
             SEARCH_LIMIT)).fetchall() if room or len(said) >= 4 else []
        households = conn.execute(
            "SELECT community_id, id, name, phone, under_observation FROM households"
            " WHERE id = %s OR (%s::text IS NOT NULL AND right(phone, 4) = %s)"
            " ORDER BY community_id, building, room LIMIT %s",
            (room or "", tail, tail, SEARCH_LIMIT)).fetchall()
    return {"query": said, "parcels": parcels,
            "households": [{**h, "phone": mask_phone(h["phone"]),
                            "name": (h["name"][:1] + "*") if h["name"] else ""}
                           for h in households]}


def district_stamp(conn: psycopg.Connection) -> tuple[Any, ...]:
    """What changes whenever ``district_now`` could answer differently, but for time (the
    caller adds the minute): the records applied from every gate (parcels, tasks and their
    events arrive only as records), the gates' health as their syncs said it (its ages
    aside: those move at every sync, and the minute covers them), each gate's last sync to
    the minute, the compounds, the assignments and the alarms. One small read, for a poll
    that finds nothing new: of a gate's status only what the dashboard shows (``_gate``),
    never its layout (most of its size)."""
    with unavailable_as_shelf_error():
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(applied - base), 0) FROM gate_epochs) AS applied,"
            " (SELECT md5(string_agg(concat_ws(',', community_id, id, name, pending,"
            " commands_applied, last_command, date_trunc('minute', last_sync_at),"
            " status->'names', status->'camera_lost', status->'outbox_failed'), '|'"
            " ORDER BY community_id, id)) FROM (SELECT community_id, id, name, pending,"
            " commands_applied, last_command, last_sync_at, status - 'layout' AS status"
            " FROM gates OFFSET 0) g) AS gates,"  # each status read once (GATE_HEALTH)
            " (SELECT md5(string_agg(id || name, '|' ORDER BY id)) FROM communities) AS named,"
            " (SELECT max(id) FROM assignments) AS lent,"
            " (SELECT max(id) FROM sync_alarms) AS alarms,"
            " (SELECT count(*) FROM sync_alarms WHERE resolved_at IS NOT NULL) AS resolved"
            ).fetchone()
    return tuple(row.values())
