"""Decisions taken at the centre about what a gate owns: commands, numbered per gate.

A door delivery confirmed on a phone that talks to the centre, a parcel handed out from the
compound's site, the household list, an observation list or a staff account changed here:
each becomes a command to the gate that owns what it changes (or to every gate). Its number
is taken by ``UPDATE gates SET last_command = last_command + 1 ... RETURNING`` (the gate's row
lock, held to the commit), so commands of one gate commit in the order of their numbers and
a gate reading "after N" never skips one that commits late. Until the gate has applied it,
the command is ``pending`` and the pages say so ("waiting for the north gate"); the gate's
``command_applied`` or ``command_refused`` event marks it done (``kiosk.centre.intake``).

What the centre can check itself it checks first, so the person at the door hears at once:
the door must be the task's household (2304 is not 2403), the parcel still on the shelf as
its gate last said; the gate checks again when it applies the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.centre.gates import UnknownGate
from kiosk.domain import HouseholdId, mask_household
from kiosk.errors import (
    IdNotChecked,
    ParcelNotWaiting,
    ReasonMissing,
    TaskCancelled,
    TaskClosed,
    UnknownParcel,
    UnknownTask,
    WrongDoor,
)
from kiosk.tasks import read_door


@dataclass(frozen=True)
class Issued:
    """A command given: to which gate, its number there; ``repeat``: it was given before."""

    gate: str
    seq: int
    kind: str
    repeat: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "command": self.seq, "kind": self.kind,
                "status": "pending", "repeat": self.repeat}


def issue(conn: psycopg.Connection, community: str, gate: str, kind: str,
          payload: dict[str, Any], actor: str, now: datetime) -> Issued:
    """Give ``gate`` a command, inside the caller's transaction (the number is taken under
    the gate's row lock, held until that transaction ends)."""
    row = conn.execute("UPDATE gates SET last_command = last_command + 1 WHERE community_id = %s"
                       " AND id = %s RETURNING last_command", (community, gate)).fetchone()
    if row is None:
        raise UnknownGate(f"there is no gate {gate!r} in {community!r}")
    seq = row["last_command"]
    conn.execute("INSERT INTO commands (community_id, gate_id, seq, kind, payload, created_at,"
                 " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (community, gate, seq, kind, Jsonb(payload), now, actor[:200]))
    centre_event(conn, community, gate, now, "command_issued", actor, command=seq,
                 command_kind=kind)
    return Issued(gate, seq, kind)


def issue_to_every_gate(conn: psycopg.Connection, community: str, kind: str,
                        payload: dict[str, Any], actor: str, now: datetime) -> list[Issued]:
    """The same command to each gate of the community, in the caller's transaction (gates in
    the order of their ids: two such transactions lock them in the same order)."""
    gates = conn.execute("SELECT id FROM gates WHERE community_id = %s ORDER BY id",
                         (community,)).fetchall()
    return [issue(conn, community, g["id"], kind, payload, actor, now) for g in gates]


def _pending(conn: psycopg.Connection, community: str, gate: str, kind: str,
             key: str, value: Any) -> int | None:
    row = conn.execute(
        "SELECT seq FROM commands WHERE community_id = %s AND gate_id = %s AND kind = %s"
        " AND status = 'pending' AND payload->%s = %s ORDER BY seq LIMIT 1",
        (community, gate, kind, key, Jsonb(value))).fetchone()
    return row["seq"] if row else None


def confirm_delivery(conn: psycopg.Connection, community: str, gate: str, origin: str,
                     task_id: int, door: str, secret: bytes, *, actor: str,
                     now: datetime) -> Issued:
    """A team confirms at the door, on a phone that talks to the centre: check the door, then
    command the task's gate to deliver it (the parcels leave its shelf when it applies it)."""
    given, _via = read_door(door, secret)
    with unavailable_as_shelf_error(), conn.transaction():
        task = conn.execute(
            "SELECT household_id, status, closed_by FROM door_tasks WHERE community_id = %s"
            " AND gate_id = %s AND origin = %s AND id = %s FOR UPDATE",
            (community, gate, origin, task_id)).fetchone()
        if task is None:
            raise UnknownTask(f"there is no door task {task_id} at the {gate} gate")
        if task["status"] == "delivered":
            raise TaskClosed(f"door task {task_id} was delivered already (by "
                             f"{task['closed_by']})")
        if task["status"] == "cancelled":
            raise TaskCancelled(f"door task {task_id} was cancelled: nothing to carry")
        if str(given) == task["household_id"]:
            already = _pending(conn, community, gate, "deliver", "task", task_id)
            if already is not None:
                return Issued(gate, already, "deliver", repeat=True)
            return issue(conn, community, gate, "deliver",
                         {"task": task_id, "origin": origin, "door": door.strip(),
                          "household": task["household_id"]}, actor, now)
    raise _wrong_door(conn, community, gate, task["household_id"], given, actor, now,
                      task=task_id)


def _wrong_door(conn: psycopg.Connection, community: str, gate: str | None, expected: str,
                given: HouseholdId, actor: str, now: datetime, **detail: Any) -> WrongDoor:
    """Record a door refused (in its own transaction: the refusal is kept) and say why."""
    with unavailable_as_shelf_error(), conn.transaction():
        centre_event(conn, community, gate, now, "door_refused", actor, household=expected,
                     given=str(given), **detail)
    return WrongDoor(f"wrong door: this is {given.masked()}, the parcels are for "
                     f"{mask_household(expected)}; take them to that door",
                     expected=expected, given=str(given))


def confirm_visit(conn: psycopg.Connection, community: str, household: str, door: str,
                  secret: bytes, *, actor: str, now: datetime) -> list[Issued]:
    """A team confirms at a household's door, on a phone that talks to the centre: check the
    door once, then command each gate with an open door task for that household to deliver
    it (one command per gate's task, in one transaction; one already given is not given
    again). A household with parcels at two gates is one visit, and one confirmation."""
    given, _via = read_door(door, secret)
    if str(given) != household:
        raise _wrong_door(conn, community, None, household, given, actor, now)
    with unavailable_as_shelf_error(), conn.transaction():
        tasks = conn.execute(
            "SELECT gate_id, origin, id FROM door_tasks WHERE community_id = %s"
            " AND household_id = %s AND status = 'open' ORDER BY gate_id, id",
            (community, household)).fetchall()
        if not tasks:
            raise TaskClosed(f"nothing is open to deliver to {mask_household(household)}: "
                             "its door tasks were delivered or cancelled")
        return [confirm_delivery(conn, community, t["gate_id"], t["origin"], t["id"], door,
                                 secret, actor=actor, now=now) for t in tasks]


def hand_out_at_centre(conn: psycopg.Connection, community: str, gate: str, origin: str,
                       parcel_id: int, *, reason: str, id_checked: bool, actor: str,
                       now: datetime) -> Issued:
    """Staff hand a parcel out from the compound's site: command its gate to (the parcel
    leaves that shelf when the gate applies it, or the gate says why it could not)."""
    why = " ".join(reason.split())[:500]
    if not why:
        raise ReasonMissing("say why in a few words: the reason is kept with the parcel")
    if not id_checked:
        raise IdNotChecked("check the collector's ID, tick \"ID checked\", then hand it out")
    with unavailable_as_shelf_error(), conn.transaction():
        parcel = conn.execute(
            "SELECT status FROM parcels WHERE community_id = %s AND gate_id = %s AND origin = %s"
            " AND id = %s FOR UPDATE", (community, gate, origin, parcel_id)).fetchone()
        if parcel is None:
            raise UnknownParcel(f"there is no parcel {parcel_id} at the {gate} gate")
        if parcel["status"] != "waiting":
            raise ParcelNotWaiting(f"parcel {parcel_id} is not on the shelf: it was "
                                   f"{parcel['status']}")
        already = _pending(conn, community, gate, "hand_out", "parcel", parcel_id)
        if already is not None:
            return Issued(gate, already, "hand_out", repeat=True)
        return issue(conn, community, gate, "hand_out",
                     {"parcel": parcel_id, "origin": origin, "reason": why,
                      "id_checked": True}, actor, now)


def waiting_commands(conn: psycopg.Connection, community: str) -> list[dict[str, Any]]:
    """Commands no gate has applied yet, oldest first, with the gate's name: what the pages
    show as "waiting for the north gate" instead of pretending it is done. A command about
    one parcel carries its household and waybill (``parcel_household``, ``parcel_ref``),
    how staff know the parcel."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT c.gate_id, g.name AS gate_name, g.status->'names' AS gate_names, c.seq,"
            " c.kind, c.payload, c.created_at, c.created_by,"
            " p.household_id AS parcel_household, p.ref AS parcel_ref FROM commands c"
            " JOIN gates g ON g.community_id = c.community_id AND g.id = c.gate_id"
            " LEFT JOIN parcels p ON p.community_id = c.community_id AND p.gate_id = c.gate_id"
            " AND p.origin = c.payload->>'origin' AND p.id = (c.payload->>'parcel')::bigint"
            " WHERE c.community_id = %s AND c.status = 'pending'"
            " ORDER BY c.created_at, c.gate_id, c.seq", (community,)).fetchall()


def command_status(conn: psycopg.Connection, community: str, gate: str,
                   seq: int) -> dict[str, Any] | None:
    with unavailable_as_shelf_error():
        return conn.execute("SELECT status, result, done_at FROM commands WHERE"
                            " community_id = %s AND gate_id = %s AND seq = %s",
                            (community, gate, seq)).fetchone()
