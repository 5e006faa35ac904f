"""Read models for pages, the API, the demo and the tools: plain SQL, no unit of work needed.

Every query here that runs per request reads only what is on the shelf now (through the partial
indexes on waiting parcels), so it costs the same at 1M parcels of history as at 1k.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from kiosk.domain import (
    ROOM_MARK,
    ROOM_SEPARATOR,
    HouseholdId,
    canonical_room,
    confusable_with,
    mask_phone,
    phone_tail,
    split_phones,
)
from kiosk.errors import UnknownHousehold
from kiosk.timefmt import iso

# ``:slot`` narrows these two to one slot; NULL means every slot.
# A slot's light: the gate's while it lasts, else a team's "collect" (kiosk.store.Signals).
ACTIVE_SLOTS = """
    SELECT s.code, s.shelf, s.position, s.capacity, s.buildings, s.overflow,
           (SELECT g.mode FROM signals g WHERE g.slot_code = s.code AND g.until > :now
            ORDER BY g.layer = 'gate' DESC LIMIT 1) AS light
    FROM slots s
    WHERE s.active = 1 AND (:slot IS NULL OR s.code = :slot)
    ORDER BY s.overflow, s.position"""
# A parcel's slot button said it is in (1), not yet (0); NULL: its slot has no button.
PLACED = """CASE WHEN (SELECT b.button FROM slots b WHERE b.code = p.slot_code) = 1
                THEN p.placed_at IS NOT NULL END AS placed"""
WAITING_COUNTS = """
    SELECT slot_code, COUNT(*) AS waiting FROM parcels
    WHERE status = 'waiting' AND (:slot IS NULL OR slot_code = :slot)
    GROUP BY slot_code"""
WAITING_PARCELS = f"""
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed, p.fresh, {PLACED}
    FROM parcels p JOIN households h ON h.id = p.household_id
    WHERE p.status = 'waiting' ORDER BY p.id"""
# One slot's: through the waiting-parcels index, however long the collected history grows.
SLOT_WAITING_PARCELS = f"""
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed, p.fresh, {PLACED}
    FROM parcels p JOIN households h ON h.id = p.household_id
    WHERE p.status = 'waiting' AND p.slot_code = :slot ORDER BY p.id"""
# The oldest ``:limit`` waiting parcels of every slot, slot by slot: a slot's subquery reads
# that slot's entries in the waiting-parcels index and keeps its first few ids, and only
# those parcels and households are fetched. CROSS JOIN holds SQLite's planner to that order
# (slots outside); a plain JOIN let it scan every parcel per slot, 1,000 times slower at
# 2,000 parcels. A ROW_NUMBER() OVER (PARTITION BY slot_code ORDER BY id) window gives the
# same rows but sorts every waiting parcel first: 6 times slower here.
FIRST_WAITING_PARCELS = f"""
    SELECT p.id, p.slot_code, p.household_id, p.ref, p.checked_in_at, h.under_observation,
           p.kind, p.room_confirmed, p.fresh, {PLACED}
    FROM slots s
    CROSS JOIN parcels p ON p.id IN (
        SELECT id FROM parcels
        WHERE status = 'waiting' AND slot_code = s.code
        ORDER BY id LIMIT :limit)
    JOIN households h ON h.id = p.household_id
    WHERE s.active = 1
    ORDER BY p.id"""


def slots_view(conn: sqlite3.Connection, now: datetime,
               parcels_per_slot: int | None = None) -> list[dict[str, Any]]:
    """Every active slot in shelf order with its waiting parcels (oldest first) and its light.

    This is the body of ``GET /api/slots``: keep its keys stable, other tools rely on them.
    With ``parcels_per_slot`` a slot lists only its oldest that many parcels while ``count``
    still counts them all, so a page grows with the slots, not with the parcels.
    """
    if parcels_per_slot is None:
        return _slots(conn, now, None, WAITING_PARCELS, {})
    if parcels_per_slot < 1:
        raise ValueError(f"parcels_per_slot must be at least 1, not {parcels_per_slot}")
    return _slots(conn, now, None, FIRST_WAITING_PARCELS, {"limit": parcels_per_slot})


def slot_view(conn: sqlite3.Connection, now: datetime, code: str) -> dict[str, Any] | None:
    """One active slot with all its waiting parcels, shaped like an item of ``slots_view``."""
    found = _slots(conn, now, code, SLOT_WAITING_PARCELS, {"slot": code})
    return found[0] if found else None


def slot_layout(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The active slots in shelf order, without parcels or lights (the keys of a
    ``slots_view`` item): what a gate of a compound tells its centre (``kiosk.sync``), so
    that the compound's shelf page draws the gate's own grid."""
    rows = conn.execute("SELECT code, shelf, capacity, buildings, overflow FROM slots"
                        " WHERE active = 1 ORDER BY overflow, position").fetchall()
    return [{"code": r["code"], "shelf": r["shelf"],
             "capacity": None if r["overflow"] else r["capacity"],
             "buildings": r["buildings"], "overflow": bool(r["overflow"])} for r in rows]


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Let every statement inside read the same committed state (in WAL, writers go on).

    A check-in committing between two of a view's statements would otherwise make a slot's
    count disagree with its list.
    """
    if conn.in_transaction:  # the caller's own transaction reads one state already
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")  # nothing was written


def _slots(conn: sqlite3.Connection, now: datetime, slot: str | None, parcels_sql: str,
           params: dict[str, Any]) -> list[dict[str, Any]]:
    """The active slots (all, or ``slot`` alone), each with its share of the parcels."""
    with read_snapshot(conn):
        parcels = conn.execute(parcels_sql, params).fetchall()
        counts = {r["slot_code"]: r["waiting"]
                  for r in conn.execute(WAITING_COUNTS, {"slot": slot})}
        slots = conn.execute(ACTIVE_SLOTS, {"slot": slot, "now": iso(now)}).fetchall()
    by_slot: dict[str, list[dict[str, Any]]] = {}
    for p in parcels:
        by_slot.setdefault(p["slot_code"], []).append({
            "id": p["id"],
            "household": p["household_id"],
            "ref": p["ref"],
            "checked_in_at": p["checked_in_at"],
            "door_delivery": bool(p["under_observation"]),
            "kind": p["kind"],  # shelf (our label) or carrier (its tracking number is the ref)
            "room_confirmed": bool(p["room_confirmed"]),  # False: typed at the gate; check it
            "fresh": bool(p["fresh"]),  # fresh food: collect or deliver it first
            # its slot's button confirmed it in (kiosk.placing); None: the slot has no button
            "placed": None if p["placed"] is None else bool(p["placed"]),
        })
    return [
        {
            "code": s["code"],
            "shelf": s["shelf"],
            "capacity": None if s["overflow"] else s["capacity"],
            "buildings": s["buildings"],
            "overflow": bool(s["overflow"]),
            "count": counts.get(s["code"], 0),
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


def failed_notice_count(conn: sqlite3.Connection) -> int:
    """How many notices gave up (the staff page's banner); through the failed-rows index."""
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").fetchone()[0]


# What the gate's screen shows: every outcome at the gate, in order.
GATE_EVENT_KINDS = ("checked_in", "rescanned", "collected", "scan_refused", "needs_room",
                    "placed", "taken", "wrong_slot", "not_placed")  # the last four: buttons


def gate_events(conn: sqlite3.Connection, after_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The gate's outcomes recorded after event ``after_id``, oldest first (at most ``limit``).

    A screen starts from ``last_event_id`` and asks again with the last id it showed. Reads a
    range of the events' ids, so it costs the same however long the history is. ``household``
    is as stored: a screen masks it (``kiosk.domain.mask_household``).
    """
    marks = ",".join("?" * len(GATE_EVENT_KINDS))
    rows = conn.execute(
        f"""SELECT id, at, kind, actor, parcel_id, household_id, slot_code, detail FROM events
            WHERE id > ? AND kind IN ({marks}) ORDER BY id LIMIT ?""",
        (after_id, *GATE_EVENT_KINDS, limit)).fetchall()
    return [_gate_event(r) for r in rows]


def _gate_event(row: sqlite3.Row) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    return {
        "id": row["id"],
        "at": row["at"],
        "kind": row["kind"],
        # Check-ins and pickups name their entry in the details; a refusal's actor is its entry.
        "source": detail.get("source") or row["actor"],
        "household": row["household_id"],
        "slot": row["slot_code"],
        "error": detail.get("error"),
        "message": detail.get("message"),
        "code": detail.get("code"),
        "suggestions": list(detail.get("suggestions") or []),
        "parcel": row["parcel_id"],
        "room_confirmed": detail.get("room_confirmed"),
        "retry_after_s": detail.get("retry_after_s"),
        "tries_left": detail.get("tries_left"),  # a typed code: wrong ones before a wait
        "fresh": bool(detail.get("fresh")),  # checked in fresh (its label or announcement)
        # needs_room: the household the code was announced for; a check-in: the same
        "announced": detail.get("announced") or detail.get("announced_for"),
        "expected": detail.get("expected"),  # wrong_slot: the slot that was meant
    }


ANNOUNCEMENT_ROW = """
    SELECT e.code, e.household_id, e.announced_by, e.announced_at, e.used_at, e.parcel_id,
           e.fresh, p.household_id AS parcel_household
    FROM expected e LEFT JOIN parcels p ON p.id = e.parcel_id"""


def announcements(conn: sqlite3.Connection, met_since: datetime,
                  limit: int = 200) -> dict[str, list[dict[str, Any]]]:
    """The staff's list of announcements: ``open`` (no parcel yet, newest first) and ``met``
    (a parcel came since ``met_since``, newest first), at most ``limit`` each.

    Each names who announced it (``announced_by``: ``li@web``, ``bot@api``) and, once met,
    where its parcel went (``parcel_household``: another household when the waybill said so).
    """
    with read_snapshot(conn):
        waiting = conn.execute(f"""{ANNOUNCEMENT_ROW} WHERE e.used_at IS NULL
                                   ORDER BY e.announced_at DESC LIMIT ?""", (limit,)).fetchall()
        met = conn.execute(f"""{ANNOUNCEMENT_ROW} WHERE e.used_at >= ?
                               ORDER BY e.used_at DESC LIMIT ?""",
                           (iso(met_since), limit)).fetchall()
    return {"open": [_announcement_row(r) for r in waiting],
            "met": [_announcement_row(r) for r in met]}


def _announcement_row(row: sqlite3.Row) -> dict[str, Any]:
    went = row["parcel_household"]
    return {"code": row["code"], "household": row["household_id"],
            "announced_by": row["announced_by"], "announced_at": row["announced_at"],
            "used_at": row["used_at"], "parcel": row["parcel_id"], "fresh": bool(row["fresh"]),
            "parcel_household": went,
            "contradicted": went is not None and went != row["household_id"]}


def gate_checked_in_at(conn: sqlite3.Connection, parcel_id: int,
                       sources: tuple[str, ...]) -> datetime | None:
    """When ``parcel_id`` was last checked in (or scanned again) from one of ``sources``.

    For the gate's fresh-food key: the gate may mark only what it has just shown. Reads the
    parcel's own events (``events_parcel``), so it costs the same at any length of history.
    """
    marks = ",".join("?" * len(sources))
    row = conn.execute(
        f"""SELECT at FROM events WHERE parcel_id = ? AND kind IN ('checked_in', 'rescanned')
            AND json_extract(detail, '$.source') IN ({marks}) ORDER BY id DESC LIMIT 1""",
        (parcel_id, *sources)).fetchone()
    return datetime.fromisoformat(row["at"]) if row else None


def grid_state(conn: sqlite3.Connection, now: datetime) -> tuple[Any, ...]:
    """What the staff grid shows changes only with one of these: a new event (every check-in,
    pickup, move, hand-out, observation change and door delivery records one in its own
    transaction, and events are never deleted), a light coming on or going out, a notice
    giving up. Three small reads, so a poll that finds nothing changed skips the shelf."""
    with read_snapshot(conn):
        newest = last_event_id(conn)
        lights = conn.execute(
            "SELECT slot_code, layer, mode FROM signals WHERE until > ? ORDER BY 1, 2",
            (iso(now),)).fetchall()
        failed = failed_notice_count(conn)
    return newest, failed, tuple(tuple(row) for row in lights)


def last_event_id(conn: sqlite3.Connection) -> int:
    """The id of the newest event (0 when there is none): where a gate screen starts."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]


# One parcel and its events in order, each with its still's state (issue 8; issue 10 grows it
# into the full timeline). Through events_parcel and the event_stills key: the same cost at
# any length of history.
PARCEL = """
    SELECT p.id, p.kind, p.ref, p.household_id, p.slot_code, p.status, p.checked_in_at,
           p.closed_at, p.room_confirmed, p.fresh, h.under_observation
    FROM parcels p JOIN households h ON h.id = p.household_id WHERE p.id = ?"""
PARCEL_EVENTS = """
    SELECT e.id, e.at, e.kind, e.actor, e.slot_code, e.detail, s.taken_at AS still_taken_at,
           s.deleted_at AS still_deleted_at, s.jpeg IS NOT NULL AS still_kept, s.id AS still_id
    FROM events e
    LEFT JOIN event_stills es ON es.event_id = e.id
    LEFT JOIN stills s ON s.id = es.still_id
    WHERE e.parcel_id = ? ORDER BY e.id"""


def parcel_timeline(conn: sqlite3.Connection, parcel_id: int) -> dict[str, Any] | None:
    """The parcel and its events, oldest first; None when there is no such parcel.

    Each event's ``still`` is ``kept`` (its picture can be read with ``still_jpeg``),
    ``deleted`` (``still_kept_days``: how old it was when deleted) or None (no camera scan).
    ``household`` is as stored: the staff pages show it whole, as the slot page does.
    """
    with read_snapshot(conn):
        parcel = conn.execute(PARCEL, (parcel_id,)).fetchone()
        events = conn.execute(PARCEL_EVENTS, (parcel_id,)).fetchall() if parcel else []
    if parcel is None:
        return None
    return {
        "id": parcel["id"],
        "kind": parcel["kind"],
        "ref": parcel["ref"],
        "household": parcel["household_id"],
        "slot": parcel["slot_code"],
        "status": parcel["status"],
        "checked_in_at": parcel["checked_in_at"],
        "closed_at": parcel["closed_at"],
        "room_confirmed": bool(parcel["room_confirmed"]),
        "fresh": bool(parcel["fresh"]),
        "door_delivery": bool(parcel["under_observation"]),
        "events": [_timeline_event(r) for r in events],
    }


def parcel_story(conn: sqlite3.Connection, parcel_id: int) -> dict[str, Any] | None:
    """The parcel's whole timeline: ``parcel_timeline`` and everything around it, in order.

    ``entries`` (oldest first; ``origin``: event or notice) holds the parcel's own events
    (check-in, rescans, pickup, staff actions: each with its still, ``detail`` and actor), its
    notices (``notice_sent``, ``notice_pending``: kind, channel, attempts, error; one that
    gave up is its ``notice_failed`` event), the events of its door tasks that name no
    parcel (handovers, escalations, a wrong door, delivery, cancellation), and its
    household's observation changes while it waited.
    ``tasks`` are its door tasks (``task_view``). Each read goes through the parcel's, its
    tasks' or its household's own index: the same cost at any length of history.
    """
    with read_snapshot(conn):
        story = parcel_timeline(conn, parcel_id)
        if story is None:
            return None
        notices = conn.execute(PARCEL_NOTICES, (parcel_id,)).fetchall()
        task_ids = [r["task_id"] for r in conn.execute(
            "SELECT task_id FROM door_task_parcels WHERE parcel_id = ? ORDER BY task_id",
            (parcel_id,))]
        tasks = [task_view(conn, task) for task in task_ids]
        task_events = [r for task in task_ids for r in conn.execute(TASK_EVENTS, (task,))]
        household = conn.execute(HOUSEHOLD_EVENTS, {
            "household": story["household"], "from": story["checked_in_at"],
            "to": story["closed_at"]}).fetchall()
    entries = [{**e, "origin": "event"} for e in story["events"]]
    entries += [{**_timeline_event(r), "origin": "event"} for r in (*task_events, *household)]
    # A notice that gave up is on record already (its ``notice_failed`` event, and any retry)
    entries += [_notice_entry(r) for r in notices if r["status"] != "failed"]
    entries.sort(key=lambda e: (e["at"], e["origin"] == "notice", e["id"]))
    return {**story, "tasks": [t for t in tasks if t is not None], "entries": entries,
            "notices": [dict(r) for r in notices]}


PARCEL_NOTICES = """
    SELECT id, created_at, kind, channel, status, attempts, next_attempt_at, last_error, sent_at
    FROM outbox WHERE parcel_id = ? ORDER BY id"""
_EVENT_WITH_STILL = """
    SELECT e.id, e.at, e.kind, e.actor, e.slot_code, e.detail, s.taken_at AS still_taken_at,
           s.deleted_at AS still_deleted_at, s.jpeg IS NOT NULL AS still_kept, s.id AS still_id
    FROM events e
    LEFT JOIN event_stills es ON es.event_id = e.id
    LEFT JOIN stills s ON s.id = es.still_id"""
# A door task's events that name no parcel (through events_task, migration 14).
TASK_EVENTS = f"""{_EVENT_WITH_STILL}
    WHERE json_extract(e.detail, '$.task') = ? AND e.parcel_id IS NULL ORDER BY e.id"""
# The household put under observation or released while the parcel waited.
HOUSEHOLD_EVENTS = f"""{_EVENT_WITH_STILL}
    WHERE e.household_id = :household
      AND e.kind IN ('observation_added', 'observation_released')
      AND e.at >= :from AND (:to IS NULL OR e.at <= :to) ORDER BY e.id"""


def _notice_entry(row: sqlite3.Row) -> dict[str, Any]:
    """A notice as a moment of the timeline: sent, or still to go (``notice_pending``)."""
    status = row["status"]
    at = row["sent_at"] if status == "sent" else row["created_at"]
    return {"id": row["id"], "at": at, "kind": f"notice_{status}",
            "actor": "system", "origin": "notice", "source": None, "slot": None, "still": None,
            "still_kept_days": None, "still_id": None,
            "detail": {"notice": row["id"], "notice_kind": row["kind"],
                       "channel": row["channel"], "attempts": row["attempts"],
                       "error": row["last_error"]}}


def _timeline_event(row: sqlite3.Row) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    still, kept_days = None, None
    if row["still_taken_at"] is not None:
        still = "kept" if row["still_kept"] else "deleted"
        if still == "deleted":
            age = (datetime.fromisoformat(row["still_deleted_at"])
                   - datetime.fromisoformat(row["still_taken_at"]))
            kept_days = age.days
    return {
        "id": row["id"],
        "at": row["at"],
        "kind": row["kind"],
        "actor": row["actor"],
        "source": detail.get("source"),
        "slot": row["slot_code"],
        "still": still,
        "still_kept_days": kept_days,
        "still_id": row["still_id"],  # one scan's events share it (a check-in, its task)
        "detail": detail,
    }


def still_jpeg(conn: sqlite3.Connection, event_id: int) -> bytes | None:
    """The JPEG of the still kept with event ``event_id``; None when it has none (any longer)."""
    row = conn.execute(
        "SELECT s.jpeg FROM event_stills es JOIN stills s ON s.id = es.still_id"
        " WHERE es.event_id = ?", (event_id,)).fetchone()
    return row["jpeg"] if row and row["jpeg"] is not None else None


def observation_register(conn: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The observation lists applied, newest first: which file (its bytes deleted after [web]
    uploads_days, or not), for which day, by whom."""
    rows = conn.execute(
        """SELECT l.id, l.applied_at, l.actor, l.list_date, l.source, l.file_name, l.sha256,
                  l.format, l.added, l.released, l.unchanged, l.unknown, l.problems,
                  f.deleted_at IS NOT NULL AS file_deleted
           FROM observation_lists l LEFT JOIN observation_files f ON f.sha256 = l.sha256
           ORDER BY l.id DESC LIMIT ?""", (limit,)).fetchall()
    return [dict(r) for r in rows]


def under_observation(conn: sqlite3.Connection) -> list[str]:
    """The households under observation now, in building and room order."""
    rows = conn.execute("SELECT id FROM households WHERE under_observation = 1"
                        " ORDER BY building, room").fetchall()
    return [r["id"] for r in rows]


def observation_history(conn: sqlite3.Connection, household: str) -> list[dict[str, Any]]:
    """Every change of one household's observation state, newest first, with its list.

    Reads the household's observation events through their partial index (migration 8).
    """
    rows = conn.execute(
        """SELECT e.id, e.at, e.kind, e.actor, l.id AS list_id, l.list_date, l.source,
                  l.file_name, l.sha256, f.deleted_at IS NOT NULL AS file_deleted
           FROM events e
           LEFT JOIN observation_lists l ON l.id = json_extract(e.detail, '$.list')
           LEFT JOIN observation_files f ON f.sha256 = l.sha256
           WHERE e.household_id = ?
             AND e.kind IN ('observation_added', 'observation_released')
           ORDER BY e.id DESC""", (household,)).fetchall()
    return [{**dict(r), "under": r["kind"] == "observation_added"} for r in rows]
# --- door tasks (kiosk.tasks) --------------------------------------------------------------------

OPEN_TASKS = """
    SELECT t.id, t.household_id, t.team, t.created_at, t.assigned_at, t.fresh_since,
           t.escalations, h.building, h.room
    FROM door_tasks t JOIN households h ON h.id = t.household_id
    WHERE t.status = 'open' AND (:team IS NULL OR t.team = :team)
    ORDER BY t.fresh_since IS NULL, t.id"""
OPEN_TASK_PARCELS = """
    SELECT tp.task_id, p.id, p.ref, p.slot_code, p.fresh, p.checked_in_at, p.kind
    FROM door_tasks t JOIN door_task_parcels tp ON tp.task_id = t.id
    JOIN parcels p ON p.id = tp.parcel_id
    WHERE t.status = 'open' AND (:team IS NULL OR t.team = :team) AND p.status = 'waiting'
    ORDER BY p.id"""


def open_tasks(conn: sqlite3.Connection, team: str | None = None) -> list[dict[str, Any]]:
    """The open door tasks (of one team, or all), grouped by building: what /tasks shows.

    Fresh food first, then the oldest task first; a building comes where its first task
    does. Each task lists its waiting parcels and their slots. Households are whole: only
    signed-in staff see this.
    """
    with read_snapshot(conn):
        tasks = conn.execute(OPEN_TASKS, {"team": team}).fetchall()
        parcels = conn.execute(OPEN_TASK_PARCELS, {"team": team}).fetchall()
    by_task: dict[int, list[dict[str, Any]]] = {}
    for p in parcels:
        by_task.setdefault(p["task_id"], []).append({
            "id": p["id"], "ref": p["ref"], "slot": p["slot_code"], "fresh": bool(p["fresh"]),
            "checked_in_at": p["checked_in_at"], "kind": p["kind"]})
    buildings: dict[int, list[dict[str, Any]]] = {}
    for t in tasks:
        items = by_task.get(t["id"], [])
        buildings.setdefault(t["building"], []).append({
            "id": t["id"],
            "household": t["household_id"],
            "room": t["room"],
            "team": t["team"],
            "fresh": t["fresh_since"] is not None,
            "created_at": t["created_at"],
            "assigned_at": t["assigned_at"],
            "escalations": t["escalations"],
            "slots": list(dict.fromkeys(p["slot"] for p in items)),
            "parcels": items,
        })
    return [{"building": b, "tasks": items} for b, items in buildings.items()]


# The open tasks another team holds now that ``:team`` handed over when it went off duty: the
# latest hand-over of each open task, through its task's events (events_task).
HANDED_OVER = """
    SELECT t.id, t.household_id, t.team, t.assigned_at, t.fresh_since,
           (SELECT COUNT(*) FROM door_task_parcels tp JOIN parcels p ON p.id = tp.parcel_id
            WHERE tp.task_id = t.id AND p.status = 'waiting') AS parcels
    FROM door_tasks t
    WHERE t.status = 'open' AND t.team != :team
      AND (SELECT json_extract(e.detail, '$.from') FROM events e
           WHERE json_extract(e.detail, '$.task') = t.id AND e.kind = 'task_handed_over'
           ORDER BY e.id DESC LIMIT 1) = :team
    ORDER BY t.fresh_since IS NULL, t.id"""


def handed_over_from(conn: sqlite3.Connection, team: str) -> list[dict[str, Any]]:
    """The open door tasks ``team`` handed over (going off duty) that another team holds now:
    what its members' /tasks says instead of "nothing to deliver"."""
    return [{"id": r["id"], "household": r["household_id"], "team": r["team"],
             "handed_at": r["assigned_at"], "fresh": r["fresh_since"] is not None,
             "parcels": r["parcels"]}
            for r in conn.execute(HANDED_OVER, {"team": team})]


def task_view(conn: sqlite3.Connection, task_id: int) -> dict[str, Any] | None:
    """One door task whatever its status, with all its parcels: the door confirmation page."""
    with read_snapshot(conn):
        t = conn.execute("SELECT * FROM door_tasks WHERE id = ?", (task_id,)).fetchone()
        parcels = conn.execute(
            """SELECT p.id, p.ref, p.slot_code, p.status, p.fresh, p.checked_in_at, p.closed_at
               FROM door_task_parcels tp JOIN parcels p ON p.id = tp.parcel_id
               WHERE tp.task_id = ? ORDER BY p.id""", (task_id,)).fetchall()
    if t is None:
        return None
    return {
        "id": t["id"], "household": t["household_id"], "team": t["team"],
        "status": t["status"], "fresh": t["fresh_since"] is not None,
        "created_at": t["created_at"], "assigned_at": t["assigned_at"],
        "escalations": t["escalations"], "closed_at": t["closed_at"],
        "closed_by": t["closed_by"],
        "reason": t["closed_reason"],  # why it was cancelled: released, collected at the shelf
        "parcels": [{"id": p["id"], "ref": p["ref"], "slot": p["slot_code"],
                     "status": p["status"], "fresh": bool(p["fresh"]),
                     "checked_in_at": p["checked_in_at"], "closed_at": p["closed_at"]}
                    for p in parcels],
    }


# The parcels waiting at the day's end (:end) in the door tasks open then, by the team that
# held each task then: the one holding it now if it has since before :end, else the last it
# was handed to before :end (or the one that opened it), read from the task's events through
# their time index.
TEAM_WAITING = """
    SELECT CASE WHEN t.assigned_at < :end THEN t.team ELSE COALESCE(
               (SELECT json_extract(e.detail, '$.to') FROM events e
                WHERE e.at >= t.created_at AND e.at < :end AND e.kind = 'task_handed_over'
                  AND json_extract(e.detail, '$.task') = t.id
                ORDER BY e.at DESC, e.id DESC LIMIT 1),
               (SELECT json_extract(e.detail, '$.team') FROM events e
                WHERE e.at = t.created_at AND e.kind = 'task_opened'
                  AND json_extract(e.detail, '$.task') = t.id LIMIT 1),
               t.team) END AS team,
           COUNT(*) AS n
    FROM door_tasks t JOIN door_task_parcels tp ON tp.task_id = t.id
    JOIN parcels p ON p.id = tp.parcel_id
    WHERE t.created_at < :end AND (t.closed_at IS NULL OR t.closed_at >= :end)
      AND p.checked_in_at < :end AND (p.closed_at IS NULL OR p.closed_at >= :end)
    GROUP BY 1"""
# What each event of a day counts as, for the day's counts.
COUNTED_EVENTS = {"checked_in": "checked_in", "collected": "handed_out",
                  "delivered": "delivered", "task_opened": "door_tasks",
                  "handed_out": "handed_out"}  # by staff without a code, after an ID check
TEAM_COUNTS = ("door_tasks", "checked_in", "delivered", "waiting", "escalated")
PERSON_COUNTS = ("checked_in", "delivered", "handed_out")


def day_span(day: date, timezone: tzinfo) -> tuple[datetime, datetime]:
    """The community's ``day``: from its midnight to the next, as aware datetimes."""
    return (datetime.combine(day, time(0), timezone),
            datetime.combine(day + timedelta(days=1), time(0), timezone))


def daily_counts(conn: sqlite3.Connection, day: date, timezone: tzinfo,
                 teams: Sequence[str] = ()) -> dict[str, Any]:
    """A day's numbers (the community's day), for staff to compare as they did by hand.

    ``totals``: parcels checked in, door tasks opened, parcels delivered to doors, handed out
    at the shelf, still waiting at the day's end, door tasks escalated. ``teams`` (every
    configured one, zeros too): parcels that went into the team's door tasks, its deliveries
    and escalations, each credited to the team holding the task at that moment (as its event
    says), and the parcels of the tasks it held at the day's end still waiting then.
    ``people``: per person (the event's actor) and team, what they checked in, delivered and
    handed out. Reads the day's events through their time index; ``tally_counts`` counts.
    """
    start, end = day_span(day, timezone)
    span = {"start": iso(start), "end": iso(end)}
    marks = ",".join("?" * len(COUNTED_KINDS))
    with read_snapshot(conn):
        events = conn.execute(
            f"""SELECT kind, actor, json_extract(detail, '$.team') AS team,
                       COUNT(*) AS n, COUNT(DISTINCT json_extract(detail, '$.task')) AS tasks
                FROM events WHERE at >= ? AND at < ? AND kind IN ({marks})
                GROUP BY kind, actor, team""",
            (span["start"], span["end"], *COUNTED_KINDS)).fetchall()
        waiting = conn.execute(
            """SELECT COUNT(*) FROM parcels WHERE checked_in_at < :end
               AND (closed_at IS NULL OR closed_at >= :end)""", span).fetchone()[0]
        team_waiting = conn.execute(TEAM_WAITING, span).fetchall()
    return tally_counts(day, timezone, events, waiting, team_waiting, teams)


# The events a day's counts read: those counted, and the door tasks' joins and escalations.
COUNTED_KINDS = (*COUNTED_EVENTS, "task_joined", "task_escalated")
TOTAL_COUNTS = ("checked_in", "door_tasks", "delivered", "handed_out", "waiting", "escalated")


def tally_counts(day: date, timezone: tzinfo, events: Iterable[Mapping[str, Any]],
                 waiting: int, team_waiting: Iterable[Mapping[str, Any]],
                 teams: Sequence[str] = ()) -> dict[str, Any]:
    """Count a day from its events grouped by kind, actor and team (``n`` events, ``tasks``
    distinct door tasks; rows of several gates may name the same group: they add up), the
    parcels ``waiting`` at its end and those of each team's tasks (``team``, ``n``): the
    shape of ``daily_counts``, whichever store the rows came from."""
    start, end = day_span(day, timezone)
    totals = dict.fromkeys(TOTAL_COUNTS, 0)
    totals["waiting"] = waiting
    per_team = {team: dict.fromkeys(TEAM_COUNTS, 0) for team in teams}
    people: dict[tuple[str, str | None], dict[str, int]] = {}
    escalated: dict[str | None, int] = {}
    for e in events:
        if e["kind"] == "task_escalated":
            escalated[e["team"]] = escalated.get(e["team"], 0) + e["tasks"]
            continue
        if e["kind"] in ("task_opened", "task_joined") and e["team"]:
            counts = per_team.setdefault(e["team"], dict.fromkeys(TEAM_COUNTS, 0))
            counts["checked_in"] += e["n"]  # every parcel joins a task once
        if e["kind"] == "task_joined":
            continue
        what = COUNTED_EVENTS[e["kind"]]
        totals[what] += e["n"]
        if what == "door_tasks":
            per_team[e["team"]]["door_tasks"] += e["n"]
            continue
        if what == "delivered" and e["team"]:
            per_team.setdefault(e["team"], dict.fromkeys(TEAM_COUNTS, 0))["delivered"] += e["n"]
        team = e["team"] if what == "delivered" else None
        person = people.setdefault((e["actor"], team), dict.fromkeys(PERSON_COUNTS, 0))
        person[what] += e["n"]
    for team, n in escalated.items():
        totals["escalated"] += n
        if team:
            per_team.setdefault(team, dict.fromkeys(TEAM_COUNTS, 0))["escalated"] += n
    for row in team_waiting:
        counts = per_team.setdefault(row["team"], dict.fromkeys(TEAM_COUNTS, 0))
        counts["waiting"] += row["n"]
    return {
        "date": day.isoformat(),
        "timezone": getattr(timezone, "key", None) or str(timezone),
        "from": iso(start), "to": iso(end),
        "totals": totals,
        "teams": [{"team": team, **counts} for team, counts in per_team.items()],
        "people": [{"person": actor, "team": team, **counts}
                   for (actor, team), counts in sorted(people.items(),
                                                       key=lambda kv: (kv[0][0], kv[0][1] or ""))],
    }


def camera_lost(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """When and why the kiosk's camera was lost, while it still is (None: it works).

    The gate screen asks at every poll: the newest camera event, through its own index.
    """
    row = conn.execute(
        """SELECT kind, at, detail FROM events WHERE kind IN ('camera_lost', 'camera_back')
           ORDER BY id DESC LIMIT 1""").fetchone()
    if row is None or row["kind"] != "camera_lost":
        return None
    return {"since": row["at"], "reason": json.loads(row["detail"]).get("reason")}
# --- finding and following a parcel (issue 10) ---------------------------------------------------
# Every statement below reads through an index that a search term narrows (a household, a
# reference, a pickup code, a parcel, a task), or the waiting parcels' partial indexes, or the
# gate's refusals of the last days (``events_refused``): none walks the history, which may be a
# million parcels (``bench/search.py`` checks their plans at 1M).

PARCEL_ROW = """
    SELECT p.id, p.kind, p.ref, p.household_id, p.slot_code, p.status, p.checked_in_at,
           p.closed_at, p.room_confirmed, p.fresh, h.under_observation
    FROM parcels p JOIN households h ON h.id = p.household_id"""
REF_QUERY = re.compile(r"^[0-9A-Za-z-]{3,40}$")
PICKUP_CODE_QUERY = re.compile(r"^\d{6}$")
PHONE_TAIL_QUERY = re.compile(r"^\d{4}$")
HISTORY_PER_HOUSEHOLD = 20  # a household's newest parcels shown besides those waiting
HISTORY_PER_NEAR_ROOM = 5  # ... and of a room easily confused with the one searched for
CODE_ROWS = 5  # the latest holders of a pickup code (a code is drawn again after months)
REF_PREFIX_ROWS = 20


def _parcel_row(row: sqlite3.Row, match: str, matched: str = "") -> dict[str, Any]:
    """One result of a search: the parcel, and why it was found (``match``, ``matched``)."""
    return {
        "id": row["id"], "kind": row["kind"], "ref": row["ref"],
        "household": row["household_id"], "slot": row["slot_code"], "status": row["status"],
        "checked_in_at": row["checked_in_at"], "closed_at": row["closed_at"],
        "room_confirmed": bool(row["room_confirmed"]), "fresh": bool(row["fresh"]),
        "door_delivery": bool(row["under_observation"]), "match": match, "matched": matched,
    }


def household_parcels(conn: sqlite3.Connection, household: str,
                      history: int = HISTORY_PER_HOUSEHOLD) -> list[sqlite3.Row]:
    """A household's waiting parcels (oldest first), then its newest ``history`` others.

    Two reads, each through its own index, so a household with years of parcels costs the
    same as a new one.
    """
    waiting = conn.execute(f"{PARCEL_ROW} WHERE p.household_id = ? AND p.status = 'waiting'"
                           " ORDER BY p.id", (household,)).fetchall()
    older = conn.execute(f"{PARCEL_ROW} WHERE p.household_id = ? AND p.status != 'waiting'"
                         " ORDER BY p.id DESC LIMIT ?", (household, history)).fetchall()
    return [*waiting, *older]


def search_parcels(conn: sqlite3.Connection, text: str, *, limit: int = 100) -> dict[str, Any]:
    """Parcels found by what staff type in one box, in one list, the closest matches first.

    ``text`` may be a building-room (``24-2304``, ``24栋2304``: that household's parcels, then
    those of the rooms easily confused with it, 24-2403 for 24-2304), a pickup code (six
    digits: the parcels it opens or opened), the last four digits of a phone (the households
    with such a phone; also rooms of that number in any building), or a waybill, a tracking
    number or a label's reference (exact, then starting so). Each result says why it was found
    (``match``: room, code, ref, phone, room_number, near_room, ref_prefix; ``matched``: what
    matched, phones masked). ``understood`` lists the kinds of term the text was taken for.
    """
    term = " ".join(text.split())[:60]
    found: dict[int, dict[str, Any]] = {}
    understood: list[str] = []

    def add(rows: list[sqlite3.Row], match: str, matched: str = "") -> None:
        for row in rows:
            found.setdefault(row["id"], _parcel_row(row, match, matched))

    with read_snapshot(conn):
        room = room_term(term)
        near: list[str] = []
        if room is not None:
            understood.append("room")
            add(household_parcels(conn, room), "room", room)
            near = _near_rooms(conn, room)
        if PICKUP_CODE_QUERY.match(term):
            understood.append("code")
            add(_code_parcels(conn, term), "code", term)
        ref = term.upper()
        if REF_QUERY.match(term):
            understood.append("ref")
            add(conn.execute(f"{PARCEL_ROW} WHERE p.ref IN (?, ?) ORDER BY p.id DESC LIMIT ?",
                             (ref, term, limit)).fetchall(), "ref", ref)
            add(conn.execute(f"{PARCEL_ROW} WHERE p.label = ?", (ref,)).fetchall(), "ref", ref)
        if PHONE_TAIL_QUERY.match(term):
            understood.append("phone")
            for household, phone in _phone_households(conn, term):
                add(household_parcels(conn, household), "phone", phone)
            for household in _rooms_numbered(conn, term):
                add(household_parcels(conn, household), "room_number", household)
        for household in near:
            add(household_parcels(conn, household, HISTORY_PER_NEAR_ROOM), "near_room",
                household)
        if REF_QUERY.match(term) and len(term) >= 6:
            add(conn.execute(f"{PARCEL_ROW} WHERE p.ref >= ? AND p.ref < ? ORDER BY p.ref"
                             " LIMIT ?", (ref, ref + "\uffff", REF_PREFIX_ROWS)).fetchall(),
                "ref_prefix", ref)
    results = list(found.values())
    return {"query": term, "understood": understood, "results": results[:limit],
            "more": max(0, len(results) - limit)}


def room_term(term: str) -> str | None:
    """The household a typed building-room names (``24栋2304`` -> ``24-2304``), or None."""
    try:
        return str(HouseholdId.parse(term))
    except UnknownHousehold:
        return None


def _near_rooms(conn: sqlite3.Connection, household: str) -> list[str]:
    """The households of the building whose room is easily confused with ``household``'s."""
    target = HouseholdId.parse(household)
    rows = conn.execute("SELECT building, room FROM households WHERE building = ?",
                        (target.building,)).fetchall()
    return [str(h) for h in confusable_with(target, [HouseholdId(r["building"], r["room"])
                                                     for r in rows])]


def _code_parcels(conn: sqlite3.Connection, code: str) -> list[sqlite3.Row]:
    """The parcels a pickup code opens now (its household's waiting ones) or opened before."""
    holders = conn.execute("SELECT id, household_id, used_at FROM pickup_codes WHERE code = ?"
                           " ORDER BY id DESC LIMIT ?", (code, CODE_ROWS)).fetchall()
    rows: list[sqlite3.Row] = []
    for holder in holders:
        if holder["used_at"] is None:
            rows += conn.execute(f"{PARCEL_ROW} WHERE p.household_id = ?"
                                 " AND p.status = 'waiting' ORDER BY p.id",
                                 (holder["household_id"],)).fetchall()
        rows += conn.execute(f"{PARCEL_ROW} WHERE p.pickup_code_id = ? ORDER BY p.id DESC"
                             " LIMIT ?", (holder["id"], HISTORY_PER_HOUSEHOLD)).fetchall()
    return rows


def _phone_households(conn: sqlite3.Connection, tail: str) -> list[tuple[str, str]]:
    """(household, its phone masked) for every household with a phone ending in ``tail``.

    The household list is the compound's flats (thousands at most, never history): read whole.
    """
    # The digits in order, anything between (a phone may be written "138 0000 2304"): the
    # few candidates are then checked number by number.
    rows = conn.execute("SELECT id, phone FROM households WHERE phone LIKE ?"
                        " ORDER BY building, room", ("%" + "%".join(tail) + "%",)).fetchall()
    found = []
    for row in rows:
        phones = [p for p in split_phones(row["phone"]) if phone_tail(p) == tail]
        if phones:
            found.append((row["id"], mask_phone(phones[0])))
    return found


def _rooms_numbered(conn: sqlite3.Connection, room: str) -> list[str]:
    rows = conn.execute("SELECT id FROM households WHERE room = ? ORDER BY building",
                        (canonical_room(room) or room,)).fetchall()
    return [r["id"] for r in rows]


# --- what needs attention (issue 10) --------------------------------------------------------------

# The gate's refusals worth a staff member's look: a forged or unreadable label, a household
# not in the list, a tracking number taken, a parcel scanned again after it left, a waybill
# whose phone is not the announced household's (a mistaken announcement, or a stolen one). (A
# wrong pickup code or a used pass is the resident's business, not an exception; a run of
# wrong codes at a keypad is, and is listed by keypad_runs.)
ATTENTION_ERRORS = ("forged", "garbage", "unreadable", "unknown_household", "code_taken",
                    "already_collected", "announcement_mismatch")
# Through events_refused (migration 14): the refusals of the last days, never the history.
REFUSED_SCANS = f"""{_EVENT_WITH_STILL}
    WHERE e.kind IN ('scan_refused', 'needs_room') AND e.at >= :since
      AND (e.kind = 'needs_room'
           OR json_extract(e.detail, '$.error') IN ({",".join(f"'{e}'" for e in ATTENTION_ERRORS)}))
      AND (e.kind = 'scan_refused' OR NOT EXISTS (
          SELECT 1 FROM parcels p WHERE p.label = json_extract(e.detail, '$.code')))
    ORDER BY e.at DESC LIMIT :limit"""
UNREACHABLE = f"""{PARCEL_ROW}
    JOIN events e ON e.parcel_id = p.id AND e.kind = 'notice_unreachable'
    WHERE p.status = 'waiting' GROUP BY p.id ORDER BY p.id"""
UNCONFIRMED = f"""{PARCEL_ROW}
    WHERE p.room_confirmed = 0 AND p.status = 'waiting' ORDER BY p.id"""
# Waiting parcels whose slot's button nobody pressed in time (kiosk.placing): is the parcel
# in its slot at all? Through the unplaced-parcels index (migration 23).
NOT_PLACED = f"""{PARCEL_ROW}
    WHERE p.status = 'waiting' AND p.placed_at IS NULL
      AND EXISTS (SELECT 1 FROM events e WHERE e.parcel_id = p.id AND e.kind = 'not_placed')
    ORDER BY p.id"""
IN_SLOT = f"""{PARCEL_ROW}
    WHERE p.status = 'waiting' AND p.slot_code = ? ORDER BY p.id"""


def attention(conn: sqlite3.Connection, since: datetime, overflow: str,
              limit: int = 200) -> dict[str, Any]:
    """What needs a staff member's look now: the exceptions list.

    ``refused``: the gate's refusals since ``since`` (newest first, of the ``limit`` newest):
    forged, unknown household, garbage ... (``ATTENTION_ERRORS``), and carrier codes the gate
    asked a room for that never checked in (``needs_room``); each with its still's state; a
    tracking number refused for one reason several times is one row, the newest, with
    ``times``.
    ``unreachable``: waiting parcels whose household no channel reaches. ``failed_notices``:
    how many notices gave up. ``overflow``: parcels waiting in the overflow place.
    ``unconfirmed``: waiting parcels whose room was typed at the gate and not settled.
    ``not_placed``: waiting parcels their slot's button never confirmed ("not confirmed on
    the shelf").
    """
    with read_snapshot(conn):
        refused = conn.execute(REFUSED_SCANS, {"since": iso(since), "limit": limit}).fetchall()
        unreachable = conn.execute(UNREACHABLE).fetchall()
        unconfirmed = conn.execute(UNCONFIRMED).fetchall()
        not_placed = conn.execute(NOT_PLACED).fetchall()
        spilled = conn.execute(IN_SLOT, (overflow,)).fetchall()
        failed = failed_notice_count(conn)
    return {
        "refused": once_per_code([_refusal(r) for r in refused]),
        "unreachable": [_parcel_row(r, "unreachable") for r in unreachable],
        "failed_notices": failed,
        "overflow": [_parcel_row(r, "overflow") for r in spilled],
        "unconfirmed": [_parcel_row(r, "unconfirmed") for r in unconfirmed],
        "not_placed": [_parcel_row(r, "not_placed") for r in not_placed],
    }


def once_per_code(refusals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per tracking number and reason (and gate, at the compound's centre), the
    newest, with how often (``times``): a courier who scanned a waybill three times left one
    thing to look at, not three."""
    kept: list[dict[str, Any]] = []
    seen: dict[tuple[str | None, str, str], dict[str, Any]] = {}
    for refusal in refusals:  # newest first
        key = (refusal.get("gate"), refusal["error"], refusal["code"])
        if refusal["code"] and key in seen:
            seen[key]["times"] += 1
            continue
        refusal["times"] = 1
        kept.append(refusal)
        if refusal["code"]:
            seen[key] = refusal
    return kept


# What a guesser leaves at a keypad (kiosk.keypad): wrong pickup codes typed there, and codes
# refused unchecked while it waited. A typed code's refusal carries tries_left (a scanned
# pass's does not); the codes themselves are never recorded. Through events_refused.
KEYPAD_REFUSALS = """
    SELECT e.at, e.actor, json_extract(e.detail, '$.error') AS error,
           json_extract(e.detail, '$.retry_after_s') AS wait_s
    FROM events e
    WHERE e.kind IN ('scan_refused', 'needs_room') AND e.at >= ?
      AND json_extract(e.detail, '$.error') IN ('unknown_code', 'throttled')
      AND json_extract(e.detail, '$.tries_left') IS NOT NULL
    ORDER BY e.at"""


def keypad_runs(conn: sqlite3.Connection, since: datetime, quiet: timedelta,
                least: int) -> list[dict[str, Any]]:
    """Runs of wrong pickup codes at each keypad since ``since``, the newest first.

    A run ends where its keypad had no refused code for ``quiet`` (``[pickup]
    window_minutes``); only runs of ``least`` wrong codes or more are listed (those that made
    the keypad wait: someone guessing, or holding others up; not a resident's slip). Each:
    ``source`` (the keypad), ``wrong`` codes, ``while_waiting`` (typed while it waited, not
    checked), ``first`` and ``last`` (ISO), ``longest_wait_s``.
    """
    return runs_of_wrong_codes(conn.execute(KEYPAD_REFUSALS, (iso(since),)), quiet, least)


def runs_of_wrong_codes(refusals: Iterable[Mapping[str, Any]], quiet: timedelta,
                        least: int) -> list[dict[str, Any]]:
    """``keypad_runs`` from a keypad's refused codes in time order (``at`` ISO text, ``actor``:
    the keypad, ``error``, ``wait_s``), whichever store they came from."""
    runs: dict[str, dict[str, Any]] = {}  # the open run of each keypad
    done: list[dict[str, Any]] = []
    for row in refusals:
        run = runs.get(row["actor"])
        if run is None or (datetime.fromisoformat(row["at"])
                           - datetime.fromisoformat(run["last"]) >= quiet):
            run = runs[row["actor"]] = {"source": row["actor"], "wrong": 0, "while_waiting": 0,
                                        "first": row["at"], "last": row["at"],
                                        "longest_wait_s": 0}
            done.append(run)
        run["last"] = row["at"]
        run["wrong" if row["error"] == "unknown_code" else "while_waiting"] += 1
        run["longest_wait_s"] = max(run["longest_wait_s"], row["wait_s"] or 0)
    return sorted((r for r in done if r["wrong"] >= least), key=lambda r: r["last"],
                  reverse=True)


def _refusal(row: sqlite3.Row) -> dict[str, Any]:
    event = _timeline_event(row)
    detail = event["detail"]
    return {**event, "error": detail.get("error") or row["kind"], "code": detail.get("code"),
            "message": detail.get("message"), "suggestions": detail.get("suggestions") or [],
            "source": detail.get("source") or row["actor"]}


def overdue_parcels(conn: sqlite3.Connection, before: datetime) -> list[dict[str, Any]]:
    """The parcels waiting since before ``before``, oldest first (the waiting ones only)."""
    rows = conn.execute(f"{PARCEL_ROW} WHERE p.status = 'waiting' AND p.checked_in_at < ?"
                        " ORDER BY p.id", (iso(before),)).fetchall()
    return [_parcel_row(r, "overdue") for r in rows]


def slot_flags(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Per slot holding parcels: since when its oldest waits, whether one goes to a door.

    For the shelf page's filters (a card lists only its oldest few parcels).
    """
    rows = conn.execute(
        """SELECT p.slot_code, MIN(p.checked_in_at) AS oldest,
                  MAX(h.under_observation) AS door
           FROM parcels p JOIN households h ON h.id = p.household_id
           WHERE p.status = 'waiting' GROUP BY p.slot_code""").fetchall()
    return {r["slot_code"]: {"oldest": r["oldest"], "door": bool(r["door"])} for r in rows}
# --- households (the staff site's household list) ------------------------------------------------

# A phone column's numbers as digits, each followed by ';': a phone tail matches '%<tail>;%'.
_PHONE_DIGITS = ("REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(h.phone, ' ', ''), '-', ''), '(', ''),"
                 " ')', ''), '.', '') || ';'")
HOUSEHOLD_ROWS = """
    SELECT h.id, h.building, h.room, h.name, h.phone, h.email, h.under_observation,
           (SELECT COUNT(*) FROM parcels p
            WHERE p.household_id = h.id AND p.status = 'waiting') AS waiting
    FROM households h"""
HOUSEHOLD_ORDER = " ORDER BY h.building, length(h.room), h.room"  # 902 before 1002
# A building and the beginning of a room, typed as HouseholdId.parse reads a whole one.
_BUILDING_ROOM_RE = re.compile(
    rf"^(\d{{1,3}})\s*{ROOM_SEPARATOR}\s*([0-9A-Z]{{0,6}})\s*{ROOM_MARK}$")


def household_buildings(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Each building with households: how many, how many under observation, parcels waiting."""
    rows = conn.execute(
        """SELECT h.building, COUNT(*) AS households, SUM(h.under_observation) AS under,
                  (SELECT COUNT(*) FROM parcels p JOIN households x ON x.id = p.household_id
                   WHERE x.building = h.building AND p.status = 'waiting') AS waiting
           FROM households h GROUP BY h.building ORDER BY h.building""").fetchall()
    return [dict(r) for r in rows]


def households_in_building(conn: sqlite3.Connection, building: int) -> list[dict[str, Any]]:
    """A building's households, room by room, with their parcels waiting."""
    rows = conn.execute(HOUSEHOLD_ROWS + " WHERE h.building = ?" + HOUSEHOLD_ORDER, (building,))
    return [dict(r) for r in rows]


def find_households(conn: sqlite3.Connection, text: str, limit: int = 100) -> list[dict[str, Any]]:
    """Households matching what staff typed, in building and room order, at most ``limit``.

    ``24-2304`` (or ``24栋2304``, ``24-23``: a room's beginning, ``24-``: the building) names
    building and room; digits alone are a room (``2304``), a building (up to 3 digits) or the
    end of a phone number (4 digits and more: what a waybill shows); anything else is part of
    a name.
    """
    query = unicodedata.normalize("NFKC", text).strip().upper()
    if not query:
        return []
    where: str
    match = _BUILDING_ROOM_RE.match(query)
    if match:
        where, args = "h.building = ? AND h.room LIKE ? || '%'", [
            int(match[1]), match[2].lstrip("0")]
    elif query.isascii() and query.isdigit():
        building = int(query) if len(query) <= 3 else -1
        where, args = "h.room = ? OR h.building = ?", [query.lstrip("0") or query, building]
        if len(query) >= PHONE_TAIL_MIN:
            where += f" OR ({_PHONE_DIGITS}) LIKE '%' || ? || ';%'"
            args.append(query)
    else:
        where, args = "h.name LIKE '%' || ? || '%' ESCAPE '\\'", [_like(text.strip())]
    rows = conn.execute(HOUSEHOLD_ROWS + f" WHERE {where}" + HOUSEHOLD_ORDER + " LIMIT ?",
                        (*args, limit))
    return [dict(r) for r in rows]


PHONE_TAIL_MIN = 4  # a waybill shows a phone's last four digits


def _like(text: str) -> str:
    """``text`` for a LIKE pattern, its own % and _ matched as themselves."""
    return re.sub(r"([\\%_])", r"\\\1", text)


def household_view(conn: sqlite3.Connection, household: str) -> dict[str, Any] | None:
    """One household: its contacts, its parcels waiting, its open door task, its last edits."""
    row = conn.execute(HOUSEHOLD_ROWS + " WHERE h.id = ?", (household,)).fetchone()
    if row is None:
        return None
    parcels = conn.execute(
        """SELECT id, ref, slot_code, checked_in_at, kind, fresh, room_confirmed FROM parcels
           WHERE household_id = ? AND status = 'waiting' ORDER BY id""", (household,))
    task = conn.execute("SELECT id, team FROM door_tasks WHERE household_id = ?"
                        " AND status = 'open'", (household,)).fetchone()
    edits = conn.execute(
        """SELECT at, actor, detail FROM events WHERE household_id = ? AND kind = ?
           ORDER BY id DESC LIMIT 10""", (household, "household_edited"))
    return {**dict(row), "parcels": [dict(p) for p in parcels],
            "task": dict(task) if task else None,
            "edits": [{"at": e["at"], "actor": e["actor"], **json.loads(e["detail"] or "{}")}
                      for e in edits]}


# The kiosk writes its heartbeat every 10 s (kiosk.app.watchdog): three missed beats is stale.
HEARTBEAT_STALE_S = 30.0


def kiosk_health(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """How the gate fares, for ``GET /healthz``: no names, no rooms, only times and counts.

    ``healthy`` is False while the kiosk's heartbeat is missing or older than
    ``HEARTBEAT_STALE_S`` (``status`` "kiosk_stale"), and while its camera is lost (it beats
    on, waiting for the camera, but checks nothing in: "camera_lost"); else ``status`` is "ok".
    Ages in seconds (None: never), times in UTC ISO-8601.
    """
    with read_snapshot(conn):
        beat = conn.execute("SELECT beat_at, last_frame_at FROM kiosk_heartbeat"
                            " WHERE id = 1").fetchone()
        oldest = conn.execute("SELECT MIN(created_at) FROM outbox"
                              " WHERE status = 'pending'").fetchone()[0]
        pending, failed = pending_notices(conn), failed_notice_count(conn)
        backup = conn.execute("SELECT at FROM events WHERE kind = 'backup_made'"
                              " ORDER BY id DESC LIMIT 1").fetchone()
        lost = camera_lost(conn) is not None
    beat_age = _age_s(now, beat["beat_at"]) if beat else None
    beating = beat_age is not None and beat_age <= HEARTBEAT_STALE_S
    return {
        "healthy": beating and not lost,
        "status": "kiosk_stale" if not beating else "camera_lost" if lost else "ok",
        "camera_lost": lost,
        "kiosk_heartbeat_age_s": beat_age,
        "last_frame_at": beat["last_frame_at"] if beat else None,
        "outbox_pending": pending,
        "outbox_oldest_pending_age_s": _age_s(now, oldest) if oldest else None,
        "outbox_failed": failed,
        "last_backup_at": backup["at"] if backup else None,
    }


def _age_s(now: datetime, stored: str) -> float:
    return round((now - datetime.fromisoformat(stored)).total_seconds(), 1)
