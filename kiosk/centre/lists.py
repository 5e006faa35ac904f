"""The compound's lists, owned by the centre: applied here once, sent down to every gate.

The household list and the day's observation list are compared with the centre's household
list by the very code a gate uses (``kiosk.households.import_households``,
``kiosk.observation_register.apply_list``, without applying); applied, the centre's list
changes in one transaction with a command per gate carrying the file itself. Each gate then
applies the same bytes through the same function (``kiosk.sync.commands``): an observation
change goes through ``set_observation`` there, opening and closing door tasks for the team on
duty when the gate applies it, even if that is days later. Staff accounts are changed here
by ``kiosk.staff``'s own use cases; each change goes down as the account's record.
"""

from __future__ import annotations

import base64
from collections.abc import Set
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import psycopg

from kiosk.centre.commands import Issued, issue_to_every_gate
from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.centre.store import CentreUnitOfWork
from kiosk.clock import ManualClock
from kiosk.domain import HouseholdId
from kiosk.households import ImportReport, import_households
from kiosk.observation_register import ListReport, apply_list
from kiosk.ports import StaffMember
from kiosk.services import Rules


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "data": base64.b64encode(data).decode("ascii")}


def import_households_at_centre(conn: psycopg.Connection, community: str,
                                buildings: Set[int], name: str, data: bytes, now: datetime, *,
                                actor: str, apply: bool, rules: Rules
                                ) -> tuple[ImportReport, list[Issued]]:
    """Preview a household list against the centre's; with ``apply`` (and no row refused),
    store it and send it to every gate. Returns the report and the commands given."""
    uow = CentreUnitOfWork(conn, community)
    report = import_households(uow, buildings, name, now, actor, apply=False, rules=rules,
                               data=data)
    report.apply = apply
    if not apply or report.refused:
        return report, []
    with unavailable_as_shelf_error(), uow:
        uow.households.keep_file(report.sha256, name, data, now, actor)
        for key in report.added + report.changed:
            uow.households.upsert(report.planned[key], now)
        centre_event(conn, community, None, now, "households_imported", actor,
                     source=name, sha256=report.sha256, added=len(report.added),
                     changed=len(report.changed), unchanged=len(report.unchanged))
        issued = issue_to_every_gate(conn, community, "households",
                                     {**_file(name, data), "sha256": report.sha256}, actor, now)
    report.applied = True
    return report, issued


def apply_observation_at_centre(conn: psycopg.Connection, community: str, name: str,
                                data: bytes, now: datetime, *, list_date: date, source: str,
                                actor: str, rules: Rules, confirm: bool = False,
                                dry_run: bool = False) -> tuple[ListReport, list[Issued]]:
    """Compare a day's observation list with the centre's household list; unless
    ``dry_run`` (and, with problems, only with ``confirm``), record it in the register,
    change the households' state here and send the list to every gate to apply."""
    uow = CentreUnitOfWork(conn, community)
    report = apply_list(data, name, uow, rules, ManualClock(now), list_date=list_date,
                        source=source, actor=actor, dry_run=True)
    report.dry_run, report.confirm = dry_run, confirm
    if dry_run or not report.readable or report.needs_confirmation:
        return report, []
    with unavailable_as_shelf_error(), uow:
        if not (report.added or report.released):
            seen = conn.execute(
                "SELECT id FROM observation_lists WHERE community_id = %s AND sha256 = %s"
                " AND list_date = %s AND source = %s ORDER BY id DESC LIMIT 1",
                (community, report.day_list.sha256, list_date, report.source)).fetchone()
            if seen is not None:  # the same file again: nothing to change, nothing to send
                return report, []
        uow.households.keep_file(report.day_list.sha256, name, data, now, actor,
                                 kind="observation")
        report.register_id = conn.execute(
            "INSERT INTO observation_lists (community_id, applied_at, actor, list_date, source,"
            " file_name, sha256, format, added, released, unchanged, unknown, problems)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (community, now, actor, list_date, report.source, name, report.day_list.sha256,
             report.day_list.format, len(report.added), len(report.released),
             len(report.unchanged), len(report.unknown), len(report.problems))
        ).fetchone()["id"]
        for entries, under in ((report.added, True), (report.released, False)):
            for entry in entries:
                household = uow.households.get(HouseholdId.parse(entry.household))
                if household is not None:
                    uow.households.upsert(replace(household, under_observation=under), now)
        centre_event(conn, community, None, now, "observation_list_applied", actor,
                     list=report.register_id, file=name, date=list_date.isoformat(),
                     added=len(report.added), released=len(report.released))
        issued = issue_to_every_gate(
            conn, community, "observation",
            {**_file(name, data), "list_date": list_date.isoformat(), "source": report.source,
             "list_id": report.register_id}, actor, now)
    report.applied = True
    return report, issued


def send_account(conn: psycopg.Connection, community: str, member: StaffMember, now: datetime,
                 actor: str) -> list[Issued]:
    """Send a staff account as the centre holds it now to every gate (after ``kiosk.staff``
    changed it here); in its own transaction."""
    record = {"username": member.username, "name": member.name, "role": member.role,
              "team": member.team, "password_hash": member.password_hash,
              "credential": member.credential, "disabled": member.disabled,
              "created_at": member.created_at.isoformat(),
              "updated_at": member.updated_at.isoformat()}
    with unavailable_as_shelf_error(), conn.transaction():
        return issue_to_every_gate(conn, community, "staff", {"member": record}, actor, now)
