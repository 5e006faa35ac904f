"""The shelf audit as pages and commands show it (plain SQL; ``kiosk.audit`` changes it).

``audit_now``: the open audit and the list of the slot it is checking, for the phone and
``shelf audit status``. ``audit_report``: one audit's report (start, end, who, the slots
checked, the problems), for the printable page and ``shelf audit report``. Their keys are the
``--json`` contract (README, "The shelf audit"): add keys, never rename or drop one.

Households are masked as the gate screen masks them (``24-23**``): the phone is carried along
the shelf and the report is printed; the parcel's record (staff only) has it whole. A waybill
shows as its tail, the last four characters, as written on the parcel.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from kiosk.domain import mask_household
from kiosk.queries import read_snapshot
from kiosk.timefmt import iso

TAIL = 4  # a waybill's characters shown


def waybill_tail(ref: str) -> str:
    """The end of a waybill as staff read it on the parcel: ``…7890``."""
    return ref if len(ref) <= TAIL else f"…{ref[-TAIL:]}"


def audit_now(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The open audit (running or paused), with its slot's list; None when none is open.

    ``listed``: the parcels the slot should hold (``parcel``, ``household`` masked, ``count``
    of them for its household there, ``waybill_tail``, ``door_delivery``, ``found_in``: the
    slot this audit found it in instead, or None). ``problems``: noted at this slot.
    """
    with read_snapshot(conn):
        row = conn.execute("SELECT * FROM audits WHERE status != 'done'").fetchone()
        if row is None:
            return None
        listed = conn.execute(
            """SELECT p.id, p.household_id, p.ref, h.under_observation,
                      (SELECT q.slot_code FROM audit_problems q WHERE q.audit_id = :audit
                         AND q.parcel_id = p.id AND q.kind = 'moved') AS found_in,
                      (SELECT q.kind FROM audit_problems q WHERE q.audit_id = :audit
                         AND q.parcel_id = p.id) AS noted
               FROM parcels p JOIN households h ON h.id = p.household_id
               WHERE p.status = 'waiting' AND p.slot_code = :slot ORDER BY p.id""",
            {"audit": row["id"], "slot": row["slot_code"]}).fetchall()
        problems = conn.execute(
            f"{_PROBLEMS} WHERE q.audit_id = ? AND q.slot_code = ? ORDER BY q.id",
            (row["id"], row["slot_code"])).fetchall()
        checked = conn.execute("SELECT COUNT(*) FROM audit_slots WHERE audit_id = ?",
                               (row["id"],)).fetchone()[0]
        to_check = conn.execute(_TO_CHECK, (row["id"],)).fetchone()[0]
    per_household: dict[str, int] = {}
    for p in listed:
        per_household[p["household_id"]] = per_household.get(p["household_id"], 0) + 1
    return {
        "audit": row["id"],
        "status": row["status"],
        "slot": row["slot_code"],
        "started_at": row["started_at"],
        "started_by": row["started_by"],
        "slots_checked": checked,
        "slots_to_check": to_check,
        "listed": [{"parcel": p["id"], "household": mask_household(p["household_id"]),
                    "count": per_household[p["household_id"]],
                    "waybill_tail": waybill_tail(p["ref"]),
                    "door_delivery": bool(p["under_observation"]),
                    "found_in": p["found_in"], "missing": p["noted"] == "missing"}
                   for p in listed],
        "problems": [_problem(p) for p in problems],
    }


# Slots holding parcels that the audit has not confirmed (the one being checked included).
_TO_CHECK = """
    SELECT COUNT(*) FROM slots s
    WHERE s.active = 1 AND s.overflow = 0
      AND EXISTS (SELECT 1 FROM parcels p WHERE p.status = 'waiting' AND p.slot_code = s.code)
      AND NOT EXISTS (SELECT 1 FROM audit_slots a WHERE a.audit_id = ? AND a.slot_code = s.code)"""
_PROBLEMS = """
    SELECT q.id, q.audit_id, q.kind, q.slot_code, q.parcel_id, q.home_slot, q.waybill,
           q.noted_at, q.noted_by, p.household_id, p.ref, p.status AS parcel_status
    FROM audit_problems q LEFT JOIN parcels p ON p.id = q.parcel_id"""


def _problem(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "audit": row["audit_id"], "kind": row["kind"],
            "slot": row["slot_code"], "parcel": row["parcel_id"],
            "household": mask_household(row["household_id"]) if row["household_id"] else None,
            "waybill_tail": waybill_tail(row["ref"] or row["waybill"] or "") or None,
            "waybill": row["waybill"], "home_slot": row["home_slot"],
            "parcel_status": row["parcel_status"],
            "noted_at": row["noted_at"], "noted_by": row["noted_by"]}


def audit_report(conn: sqlite3.Connection, audit_id: int) -> dict[str, Any] | None:
    """One audit's report; None when there is no such audit.

    ``slots``: each slot confirmed (``slot``, ``checked_at``, ``checked_by``, ``how``:
    button/phone/shell, ``listed``: parcels on its list, ``problems`` noted there);
    ``slots_left``: slots holding parcels it did not check (when it ended; while open, now);
    ``people``: everyone who started, checked, noted or ended it.
    """
    with read_snapshot(conn):
        row = conn.execute("SELECT * FROM audits WHERE id = ?", (audit_id,)).fetchone()
        if row is None:
            return None
        slots = conn.execute(
            """SELECT a.slot_code, a.checked_at, a.checked_by, a.how, a.listed,
                      (SELECT COUNT(*) FROM audit_problems q WHERE q.audit_id = a.audit_id
                         AND q.slot_code = a.slot_code) AS problems
               FROM audit_slots a WHERE a.audit_id = ? ORDER BY a.checked_at, a.rowid""",
            (audit_id,)).fetchall()
        problems = conn.execute(f"{_PROBLEMS} WHERE q.audit_id = ? ORDER BY q.id",
                                (audit_id,)).fetchall()
        left = (row["slots_left"] if row["status"] == "done"
                else conn.execute(_TO_CHECK, (audit_id,)).fetchone()[0])
    people = [row["started_by"], *(s["checked_by"] for s in slots),
              *(p["noted_by"] for p in problems), row["ended_by"]]
    return {
        "audit": row["id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "started_by": row["started_by"],
        "ended_at": row["ended_at"],
        "ended_by": row["ended_by"],
        "people": list(dict.fromkeys(p for p in people if p)),
        "slots_checked": len(slots),
        "slots_left": left,
        "slots": [{"slot": s["slot_code"], "checked_at": s["checked_at"],
                   "checked_by": s["checked_by"], "how": s["how"], "listed": s["listed"],
                   "problems": s["problems"]} for s in slots],
        "problems": [_problem(p) for p in problems],
    }


def recent_audits(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest audits: id, status, start and end, who started, slots checked, problems."""
    rows = conn.execute(
        """SELECT a.id, a.status, a.started_at, a.ended_at, a.started_by,
                  (SELECT COUNT(*) FROM audit_slots s WHERE s.audit_id = a.id) AS slots,
                  (SELECT COUNT(*) FROM audit_problems q WHERE q.audit_id = a.id) AS problems
           FROM audits a ORDER BY a.id DESC LIMIT ?""", (limit,)).fetchall()
    return [dict(r) for r in rows]


def audit_exceptions(conn: sqlite3.Connection, since: datetime) -> list[dict[str, Any]]:
    """Audit problems noted since ``since`` still to settle, newest first: a missing or moved
    parcel still waiting (nobody has collected or moved it since), an extra parcel."""
    rows = conn.execute(
        f"""{_PROBLEMS} WHERE q.noted_at >= ?
              AND (q.kind = 'extra' OR (p.status = 'waiting' AND NOT EXISTS (
                  SELECT 1 FROM events e WHERE e.parcel_id = q.parcel_id
                    AND e.kind = 'moved' AND e.at > q.noted_at)))
            ORDER BY q.noted_at DESC, q.id DESC""", (iso(since),)).fetchall()
    return [_problem(r) for r in rows]
