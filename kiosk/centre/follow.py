"""Finding and following parcels across the compound's gates, at the centre.

The gate's read models of the same names (``kiosk.queries``: ``search_parcels``,
``parcel_story``, ``attention``, ``overdue_parcels``, ``keypad_runs``) on the gates' mirrors:
the same keys, times as the same UTC ISO text, each parcel with its ``gate`` and ``origin``
(the epoch it was made in). A parcel's key at the centre is (gate, origin, id): a restored
gate counts its parcel ids from an older number again, under a new epoch. What stays on the
gates: the camera's stills, the pickup codes and the notices' outbox (a notice that failed or
found no channel is an event, and here as one). Every statement names the community and reads
through an index a term narrows (migration 2 of ``kiosk/migrations/postgresql``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from kiosk.centre.db import one_snapshot
from kiosk.centre.queries import moment
from kiosk.domain import (
    HouseholdId,
    canonical_room,
    confusable_with,
    mask_phone,
    phone_tail,
    split_phones,
)
from kiosk.queries import (
    ATTENTION_ERRORS,
    HISTORY_PER_HOUSEHOLD,
    HISTORY_PER_NEAR_ROOM,
    PHONE_TAIL_QUERY,
    REF_PREFIX_ROWS,
    REF_QUERY,
    once_per_code,
    room_term,
    runs_of_wrong_codes,
)

PARCEL_ROW = """
    SELECT p.gate_id, p.origin, p.id, p.kind, p.ref, p.household_id, p.slot_code, p.status,
           p.checked_in_at, p.closed_at, p.room_confirmed, p.fresh,
           COALESCE(h.under_observation, false) AS under_observation
    FROM parcels p LEFT JOIN households h
      ON h.community_id = p.community_id AND h.id = p.household_id"""
EVENT_ROW = "SELECT gate_id, id, at, kind, actor, slot_code, detail FROM events e"
Key = tuple[str, str, int]  # (gate, origin, id): a parcel's key at the centre


def parcel_row(row: dict[str, Any], match: str = "", matched: str = "") -> dict[str, Any]:
    """A parcel as ``kiosk.queries``' search result rows, with its gate and origin."""
    return {
        "id": row["id"], "kind": row["kind"], "ref": row["ref"],
        "household": row["household_id"], "slot": row["slot_code"], "status": row["status"],
        "checked_in_at": moment(row["checked_in_at"]), "closed_at": moment(row["closed_at"]),
        "room_confirmed": bool(row["room_confirmed"]), "fresh": bool(row["fresh"]),
        "door_delivery": bool(row["under_observation"]), "match": match, "matched": matched,
        "gate": row["gate_id"], "origin": row["origin"],
    }


def timeline_event(row: dict[str, Any]) -> dict[str, Any]:
    """An event as ``kiosk.queries``' timeline entries (no still: stills stay on the gate)."""
    detail = row["detail"] or {}
    return {"id": row["id"], "at": moment(row["at"]), "kind": row["kind"],
            "actor": row["actor"], "source": detail.get("source"), "slot": row["slot_code"],
            "still": None, "still_kept_days": None, "still_id": None, "detail": detail,
            "gate": row["gate_id"]}


def _key(row: dict[str, Any]) -> Key:
    return (row["gate_id"], row["origin"], row["id"])


# --- search --------------------------------------------------------------------------------

def household_parcels(conn: psycopg.Connection, community: str, household: str,
                      history: int = HISTORY_PER_HOUSEHOLD) -> list[dict[str, Any]]:
    """A household's waiting parcels at every gate (oldest first), then its newest
    ``history`` others (through the household index)."""
    args = {"c": community, "h": household, "n": history}
    waiting = conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.household_id ="
                           " %(h)s AND p.status = 'waiting' ORDER BY p.checked_in_at, p.id",
                           args).fetchall()
    older = conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.household_id ="
                         " %(h)s AND p.status != 'waiting' ORDER BY p.checked_in_at DESC"
                         " LIMIT %(n)s", args).fetchall()
    return [*waiting, *older]


def search_parcels(conn: psycopg.Connection, community: str, text: str, *,
                   limit: int = 100) -> dict[str, Any]:
    """``kiosk.queries.search_parcels`` across the gates: a building-room in any typed form
    (and the rooms easily confused with it), a waybill, tracking number or label (exact,
    then starting so), the last four digits of a phone (the centre's household list; also
    rooms of that number in any building). A pickup code is not known here (codes stay on
    their gate): six digits are looked up as a reference."""
    term = " ".join(text.split())[:60]
    found: dict[Key, dict[str, Any]] = {}
    understood: list[str] = []

    def add(rows: list[dict[str, Any]], match: str, matched: str = "") -> None:
        for row in rows:
            found.setdefault(_key(row), parcel_row(row, match, matched))

    args: dict[str, Any] = {"c": community}
    with one_snapshot(conn):
        room = room_term(term)
        near: list[str] = []
        if room is not None:
            understood.append("room")
            add(household_parcels(conn, community, room), "room", room)
            near = _near_rooms(conn, community, room)
        ref = term.upper()
        if REF_QUERY.match(term):
            understood.append("ref")
            args |= {"ref": ref, "term": term, "n": limit}
            add(conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.ref IN"
                             " (%(ref)s, %(term)s) ORDER BY p.checked_in_at DESC LIMIT %(n)s",
                             args).fetchall(), "ref", ref)
            add(conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.label ="
                             " %(ref)s", args).fetchall(), "ref", ref)
        if PHONE_TAIL_QUERY.match(term):
            understood.append("phone")
            for household, phone in _phone_households(conn, community, term):
                add(household_parcels(conn, community, household), "phone", phone)
            for household in _rooms_numbered(conn, community, term):
                add(household_parcels(conn, community, household), "room_number", household)
        for household in near:
            add(household_parcels(conn, community, household, HISTORY_PER_NEAR_ROOM),
                "near_room", household)
        if REF_QUERY.match(term) and len(term) >= 6:
            args |= {"to": ref + "\uffff", "n": REF_PREFIX_ROWS}
            add(conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.ref >= %(ref)s"
                             " AND p.ref < %(to)s ORDER BY p.ref LIMIT %(n)s", args).fetchall(),
                "ref_prefix", ref)
    results = list(found.values())
    return {"query": term, "understood": understood, "results": results[:limit],
            "more": max(0, len(results) - limit)}


def _near_rooms(conn: psycopg.Connection, community: str, household: str) -> list[str]:
    target = HouseholdId.parse(household)
    rows = conn.execute("SELECT building, room FROM households WHERE community_id = %s"
                        " AND building = %s", (community, target.building)).fetchall()
    return [str(h) for h in confusable_with(target, [HouseholdId(r["building"], r["room"])
                                                     for r in rows])]


def _phone_households(conn: psycopg.Connection, community: str,
                      tail: str) -> list[tuple[str, str]]:
    """(household, its phone masked) for each household with a phone ending in ``tail``."""
    rows = conn.execute("SELECT id, phone FROM households WHERE community_id = %s AND phone"
                        " LIKE %s ORDER BY building, room",
                        (community, "%" + "%".join(tail) + "%")).fetchall()
    found = []
    for row in rows:
        phones = [p for p in split_phones(row["phone"]) if phone_tail(p) == tail]
        if phones:
            found.append((row["id"], mask_phone(phones[0])))
    return found


def _rooms_numbered(conn: psycopg.Connection, community: str, room: str) -> list[str]:
    rows = conn.execute("SELECT id FROM households WHERE community_id = %s AND room = %s"
                        " ORDER BY building", (community, canonical_room(room) or room)
                        ).fetchall()
    return [r["id"] for r in rows]


# --- a parcel's whole timeline -------------------------------------------------------------

def find_parcel(conn: psycopg.Connection, community: str, gate: str, parcel_id: int,
                origin: str | None = None) -> list[dict[str, Any]]:
    """The parcels numbered ``parcel_id`` at ``gate`` (of the epoch starting with ``origin``,
    when given), newest first: one, unless a restored gate counted that number again."""
    return conn.execute(
        f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.gate_id = %(g)s AND p.id = %(id)s"
        " AND starts_with(p.origin, %(o)s) ORDER BY p.checked_in_at DESC",
        {"c": community, "g": gate, "id": parcel_id, "o": origin or ""}).fetchall()


def parcel_story(conn: psycopg.Connection, community: str, gate: str, parcel_id: int,
                 origin: str | None = None) -> dict[str, Any] | None:
    """``kiosk.queries.parcel_story`` at the centre: the parcel, its events, its door tasks
    (``task_view``'s keys) and their events, its household's observation changes at that
    gate while it waited, and the centre's commands about it (``origin`` "command": a
    hand-out or a door delivery decided here, pending, applied or refused by the gate).
    ``others``: parcels of the same number at that gate from another epoch (a restored gate).
    None when there is no such parcel."""
    with one_snapshot(conn):
        found = find_parcel(conn, community, gate, parcel_id, origin)
        if not found:
            return None
        row = found[0]
        key = {"c": community, "g": gate, "o": row["origin"], "id": parcel_id}
        events = conn.execute(f"{EVENT_ROW} WHERE community_id = %(c)s AND gate_id = %(g)s"
                              " AND parcel_origin = %(o)s AND parcel_id = %(id)s"
                              " ORDER BY at, id", key).fetchall()
        tasks = [task_view(conn, community, gate, t["task_origin"], t["task_id"])
                 for t in conn.execute(
                     "SELECT task_origin, task_id FROM door_task_parcels WHERE community_id ="
                     " %(c)s AND gate_id = %(g)s AND parcel_origin = %(o)s AND parcel_id ="
                     " %(id)s ORDER BY task_id", key)]
        tasks = [t for t in tasks if t is not None]
        task_events = [e for t in tasks for e in conn.execute(
            f"{EVENT_ROW} WHERE community_id = %(c)s AND gate_id = %(g)s AND detail ? 'task'"
            " AND detail->>'task' = %(task)s AND at >= %(since)s AND parcel_id IS NULL"
            " ORDER BY at, id", {**key, "task": str(t["id"]),
                                 "since": datetime.fromisoformat(t["created_at"])})]
        household = conn.execute(
            f"{EVENT_ROW} WHERE community_id = %(c)s AND household_id = %(h)s AND gate_id ="
            " %(g)s AND kind IN ('observation_added', 'observation_released')"
            " AND at >= %(from)s AND (%(to)s::timestamptz IS NULL OR at <= %(to)s)"
            " ORDER BY at, id", {**key, "h": row["household_id"], "from": row["checked_in_at"],
                                 "to": row["closed_at"]}).fetchall()
        commands = parcel_commands(conn, community, gate, row["origin"], parcel_id,
                                   [(t["id"], t["origin"]) for t in tasks])
    story = parcel_row(row)
    del story["match"], story["matched"]
    entries = [{**timeline_event(e), "origin": "event"} for e in (*events, *task_events,
                                                                   *household)]
    entries += [command_entry(c) for c in commands]
    entries.sort(key=lambda e: (e["at"], e["origin"] == "command", e["id"]))
    return {**story, "events": [timeline_event(e) for e in events], "tasks": tasks,
            "entries": entries, "notices": [], "commands": commands,
            "others": [parcel_row(r) for r in found[1:]]}


def task_view(conn: psycopg.Connection, community: str, gate: str, origin: str,
              task_id: int) -> dict[str, Any] | None:
    """``kiosk.queries.task_view`` of one gate's door task at the centre (plus its gate and
    origin; each parcel with its gate)."""
    key = {"c": community, "g": gate, "o": origin, "id": task_id}
    t = conn.execute("SELECT * FROM door_tasks WHERE community_id = %(c)s AND gate_id = %(g)s"
                     " AND origin = %(o)s AND id = %(id)s", key).fetchone()
    if t is None:
        return None
    parcels = conn.execute(
        "SELECT p.id, p.origin, p.ref, p.slot_code, p.status, p.fresh, p.checked_in_at,"
        " p.closed_at FROM door_task_parcels tp JOIN parcels p ON p.community_id ="
        " tp.community_id AND p.gate_id = tp.gate_id AND p.origin = tp.parcel_origin"
        " AND p.id = tp.parcel_id WHERE tp.community_id = %(c)s AND tp.gate_id = %(g)s"
        " AND tp.task_origin = %(o)s AND tp.task_id = %(id)s ORDER BY p.checked_in_at, p.id",
        key).fetchall()
    return {
        "id": t["id"], "household": t["household_id"], "team": t["team"],
        "status": t["status"], "fresh": t["fresh_since"] is not None,
        "created_at": moment(t["created_at"]), "assigned_at": moment(t["assigned_at"]),
        "escalations": t["escalations"], "closed_at": moment(t["closed_at"]),
        "closed_by": t["closed_by"], "reason": t["closed_reason"],
        "gate": gate, "origin": origin,
        "parcels": [{"id": p["id"], "ref": p["ref"], "slot": p["slot_code"],
                     "status": p["status"], "fresh": bool(p["fresh"]),
                     "checked_in_at": moment(p["checked_in_at"]),
                     "closed_at": moment(p["closed_at"]), "gate": gate, "origin": p["origin"]}
                    for p in parcels],
    }


COMMAND_ROW = """
    SELECT gate_id, seq, kind, payload, created_at, created_by, status, result, done_at
    FROM commands"""


def parcel_commands(conn: psycopg.Connection, community: str, gate: str, origin: str,
                    parcel_id: int, tasks: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """The centre's commands to ``gate`` about this parcel: its hand-out, its tasks'
    deliveries; oldest first."""
    return conn.execute(
        f"{COMMAND_ROW} WHERE community_id = %(c)s AND gate_id = %(g)s AND ("
        " (kind = 'hand_out' AND payload->>'parcel' = %(id)s AND payload->>'origin' = %(o)s)"
        " OR (kind = 'deliver' AND (payload->>'task') || ' ' || (payload->>'origin')"
        "     = ANY(%(tasks)s))) ORDER BY seq",
        {"c": community, "g": gate, "id": str(parcel_id), "o": origin,
         "tasks": [f"{task} {task_origin}" for task, task_origin in tasks]}).fetchall()


def command_entry(command: dict[str, Any]) -> dict[str, Any]:
    """A command as a moment of a timeline (``origin`` "command"; ``kind``: command_deliver,
    command_hand_out; ``detail``: its status, when done, what the gate said)."""
    result = command["result"] or {}
    return {"id": command["seq"], "at": moment(command["created_at"]),
            "kind": f"command_{command['kind']}", "actor": f"{command['created_by']}@centre",
            "source": "centre", "slot": None, "still": None, "still_kept_days": None,
            "still_id": None, "origin": "command", "gate": command["gate_id"],
            "detail": {"command": command["seq"], "status": command["status"],
                       "done_at": moment(command["done_at"]), "error": result.get("error"),
                       "message": result.get("message"),
                       "reason": command["payload"].get("reason")}}


# --- what needs attention, overdue parcels ------------------------------------------------

REFUSED_SCANS = f"""{EVENT_ROW}
    WHERE e.community_id = %(c)s AND e.kind IN ('scan_refused', 'needs_room')
      AND e.at >= %(since)s
      AND (e.kind = 'needs_room' OR e.detail->>'error' = ANY(%(errors)s))
      AND (e.kind = 'scan_refused' OR NOT EXISTS (
          SELECT 1 FROM parcels p WHERE p.community_id = e.community_id
          AND p.label = e.detail->>'code'))
    ORDER BY e.at DESC LIMIT %(limit)s"""
# The slot each gate reported as its overflow place (its layout, at its last sync).
OVERFLOW_SLOTS = """
    SELECT g.id AS gate_id, s->>'code' AS code FROM gates g,
           jsonb_array_elements(COALESCE(g.status->'layout'->'slots', '[]')) s
    WHERE g.community_id = %(c)s AND (s->>'overflow')::boolean"""
KEYPAD_REFUSALS = """
    SELECT gate_id, at, actor, detail->>'error' AS error,
           ceil((detail->>'retry_after_s')::float)::int AS wait_s
    FROM events WHERE community_id = %(c)s AND kind IN ('scan_refused', 'needs_room')
      AND at >= %(since)s AND detail->>'error' IN ('unknown_code', 'throttled')
      AND detail->>'tries_left' IS NOT NULL
    ORDER BY gate_id, at"""


def attention(conn: psycopg.Connection, community: str, since: datetime, *, quiet: timedelta,
              least: int, limit: int = 200) -> dict[str, Any]:
    """``kiosk.queries.attention`` (and ``keypad``: ``keypad_runs``) across the gates: the
    gates' refusals since ``since``, waiting parcels no channel reaches, rooms typed and not
    settled, parcels in each gate's overflow place; ``failed_notices``: notices given up, as
    each gate's last sync counted them (``failed_by_gate``)."""
    args = {"c": community, "since": since, "limit": limit, "errors": list(ATTENTION_ERRORS)}
    with one_snapshot(conn):
        refused = conn.execute(REFUSED_SCANS, args).fetchall()
        unreachable = conn.execute(
            f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.status = 'waiting' AND EXISTS"
            " (SELECT 1 FROM events e WHERE e.community_id = p.community_id AND e.gate_id ="
            " p.gate_id AND e.parcel_origin = p.origin AND e.parcel_id = p.id AND e.kind ="
            " 'notice_unreachable') ORDER BY p.checked_in_at, p.id", args).fetchall()
        unconfirmed = conn.execute(
            f"{PARCEL_ROW} WHERE p.community_id = %(c)s AND p.status = 'waiting'"
            " AND NOT p.room_confirmed ORDER BY p.checked_in_at, p.id", args).fetchall()
        spilled = conn.execute(
            f"{PARCEL_ROW} JOIN ({OVERFLOW_SLOTS}) o ON o.gate_id = p.gate_id AND o.code ="
            " p.slot_code WHERE p.community_id = %(c)s AND p.status = 'waiting'"
            " ORDER BY p.checked_in_at, p.id", args).fetchall()
        failed = conn.execute("SELECT id, COALESCE((status->>'outbox_failed')::int, 0) AS n"
                              " FROM gates WHERE community_id = %(c)s ORDER BY id",
                              args).fetchall()
        wrong_codes = conn.execute(KEYPAD_REFUSALS, args).fetchall()
    keypad = []
    for gate in dict.fromkeys(r["gate_id"] for r in wrong_codes):
        rows = [{**r, "at": moment(r["at"])} for r in wrong_codes if r["gate_id"] == gate]
        keypad += [{**run, "gate": gate} for run in runs_of_wrong_codes(rows, quiet, least)]
    return {
        "refused": once_per_code([_refusal(r) for r in refused]),
        "unreachable": [parcel_row(r, "unreachable") for r in unreachable],
        "failed_notices": sum(r["n"] for r in failed),
        "failed_by_gate": {r["id"]: r["n"] for r in failed},
        "overflow": [parcel_row(r, "overflow") for r in spilled],
        "unconfirmed": [parcel_row(r, "unconfirmed") for r in unconfirmed],
        "keypad": sorted(keypad, key=lambda r: r["last"], reverse=True),
    }


def _refusal(row: dict[str, Any]) -> dict[str, Any]:
    event = timeline_event(row)
    detail = event["detail"]
    return {**event, "error": detail.get("error") or row["kind"], "code": detail.get("code"),
            "message": detail.get("message"), "suggestions": detail.get("suggestions") or [],
            "source": detail.get("source") or row["actor"]}


def overdue_parcels(conn: psycopg.Connection, community: str,
                    before: datetime) -> list[dict[str, Any]]:
    """The parcels waiting at any gate since before ``before``, oldest first."""
    with one_snapshot(conn):
        rows = conn.execute(f"{PARCEL_ROW} WHERE p.community_id = %s AND p.status = 'waiting'"
                            " AND p.checked_in_at < %s ORDER BY p.checked_in_at, p.id",
                            (community, before)).fetchall()
    return [parcel_row(r, "overdue") for r in rows]
