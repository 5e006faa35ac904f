"""The centre's commands, applied at the gate that owns what they change, in their order.

Each command goes through the use case that does the same thing at the gate: a door delivery
through ``kiosk.tasks.deliver``, a hand-out through ``kiosk.staff_actions.hand_out``, the
household list through ``kiosk.households.import_households``, an observation list through
``kiosk.observation_register.apply_list`` (so ``set_observation`` opens and closes door tasks
exactly as if the list were applied here, for the team on duty now), a staff account through
``kiosk.staff.replicate_staff``. One SQLite transaction holds the use case, the command's
number (``sync_state.commands``) and its outcome, an event (``command_applied`` or
``command_refused``) that goes back to the centre like any other: applied once, whatever
crashes when. A refused command changes nothing (its savepoint is rolled back) and is not
tried again: the gate's answer is final (the parcel was collected meanwhile, the door was
not that task's).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kiosk.config import Config
from kiosk.errors import ShelfError, UnknownParcel, UnknownTask
from kiosk.households import import_households
from kiosk.observation_register import apply_list
from kiosk.ports import Clock, StaffMember
from kiosk.services import Rules
from kiosk.staff import replicate_staff
from kiosk.staff_actions import hand_out
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal
from kiosk.tasks import deliver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """One of the centre's decisions for this gate, as the exchange delivered it."""

    seq: int
    kind: str
    payload: dict[str, Any]
    created_by: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Command:
        return cls(int(data["seq"]), str(data["kind"]), dict(data["payload"]),
                   str(data.get("created_by") or "centre"))

    @property
    def actor(self) -> str:
        """Who decided, as the gate's events name them: ``li@centre``."""
        return f"{self.created_by}@centre"


class CommandRefused(ShelfError):
    """A command the gate cannot apply as given (a list that does not apply, an old row)."""

    code = "command_refused"


def apply_command(uow: SqliteUnitOfWork, config: Config, clock: Clock,
                  command: Command) -> dict[str, Any] | None:
    """Apply ``command`` once; return its outcome (None: applied already, nothing done)."""
    journal = Journal(uow.conn)
    handler = HANDLERS.get(command.kind)
    with uow:
        if journal.commands_applied() >= command.seq:
            return None
        uow.conn.execute("SAVEPOINT centre_command")
        try:
            if handler is None:
                raise CommandRefused(f"this gate does not know the command {command.kind!r}: "
                                     "upgrade it")
            outcome = {"status": "applied", **handler(uow, config, clock, command)}
        except (ShelfError, ValueError) as exc:  # the use case refused: nothing of it stays
            uow.conn.execute("ROLLBACK TO centre_command")
            outcome = {"status": "refused", "error": getattr(exc, "code", "invalid"),
                       "message": str(exc)[:500]}
        uow.conn.execute("RELEASE centre_command")
        uow.events.add(f"command_{outcome['status']}", command.actor, clock.now(),
                       command=command.seq, command_kind=command.kind,
                       **{k: v for k, v in outcome.items() if k != "status"})
        journal.command_done(command.seq)
    log.info("the centre's command %d (%s) %s", command.seq, command.kind, outcome["status"])
    return outcome


def _same_row(uow: SqliteUnitOfWork, table: str, row_id: int, origin: str | None) -> bool:
    """Is row ``row_id`` of this store the one the centre means (made in ``origin``)?"""
    row = uow.conn.execute(f"SELECT origin FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return row is not None and (origin is None or row["origin"] == origin)


def _deliver(uow: SqliteUnitOfWork, config: Config, clock: Clock,
             command: Command) -> dict[str, Any]:
    p = command.payload
    if not _same_row(uow, "door_tasks", int(p["task"]), p.get("origin")):
        raise UnknownTask(f"there is no door task {p['task']} of that epoch at this gate")
    outcome = deliver(int(p["task"]), str(p["door"]), uow, Rules.from_config(config), clock,
                      actor=command.actor, source="centre")
    return {"task": int(p["task"]), "parcels": list(outcome.parcels)}


def _hand_out(uow: SqliteUnitOfWork, config: Config, clock: Clock,
              command: Command) -> dict[str, Any]:
    p = command.payload
    if not _same_row(uow, "parcels", int(p["parcel"]), p.get("origin")):
        raise UnknownParcel(f"there is no parcel {p['parcel']} of that epoch at this gate")
    done = hand_out(int(p["parcel"]), uow, Rules.from_config(config), clock,
                    actor=command.actor, reason=str(p.get("reason") or ""),
                    id_checked=bool(p.get("id_checked")), source="centre")
    return {"parcel": done.parcel, "code_withdrawn": done.code_withdrawn}


def _households(uow: SqliteUnitOfWork, config: Config, clock: Clock,
                command: Command) -> dict[str, Any]:
    p = command.payload
    report = import_households(uow, config.community.buildings, p["name"], clock.now(),
                               command.actor, apply=True, rules=Rules.from_config(config),
                               data=base64.b64decode(p["data"]))
    if not report.applied:
        raise CommandRefused("the household list does not apply here: " + "; ".join(
            f"line {line}: {why}" for line, why in report.refused[:5]))
    return {"added": len(report.added), "changed": len(report.changed),
            "sha256": report.sha256}


def _observation(uow: SqliteUnitOfWork, config: Config, clock: Clock,
                 command: Command) -> dict[str, Any]:
    p = command.payload
    report = apply_list(base64.b64decode(p["data"]), p["name"], uow, Rules.from_config(config),
                        clock, list_date=date.fromisoformat(p["list_date"]),
                        source=p.get("source", ""), actor=command.actor, confirm=True)
    if not (report.applied or report.already is not None):
        raise CommandRefused("the observation list does not apply here: "
                             + report.summary().splitlines()[-1])
    return {"added": len(report.added), "released": len(report.released),
            "register_id": report.register_id, "centre_list": p.get("list_id")}


def _staff(uow: SqliteUnitOfWork, config: Config, clock: Clock,
           command: Command) -> dict[str, Any]:
    m = command.payload["member"]
    member = StaffMember(m["username"], m["name"], m["role"], m.get("team"),
                         m["password_hash"], int(m["credential"]), bool(m["disabled"]),
                         datetime.fromisoformat(m["created_at"]),
                         datetime.fromisoformat(m["updated_at"]))
    return {"username": member.username,
            "change": replicate_staff(uow, clock.now(), member, command.actor)}


HANDLERS: dict[str, Callable[[SqliteUnitOfWork, Config, Clock, Command], dict[str, Any]]] = {
    "deliver": _deliver, "hand_out": _hand_out, "households": _households,
    "observation": _observation, "staff": _staff,
}
