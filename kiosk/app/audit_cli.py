"""`shelf audit`: the shelf audit for an operator without a phone (``kiosk.audit``).

    shelf audit start            open an audit: its first slot blinks (the kiosk lights it)
    shelf audit status           the slot being checked and what it should hold
    shelf audit next             "all here": confirm that slot, go on to the next
    shelf audit missing REF      a parcel on the list is not there (its waybill, its tail or #id)
    shelf audit extra [WAYBILL]  a parcel there that is not on the list
    shelf audit pause|resume|end
    shelf audit report [ID]      an audit's report (the newest by default)

Every action but ``report`` prints the status after it. ``--json`` prints the same as JSON
(``kiosk.audit_views``: the keys are a contract); a refusal is ``{"error": code, "message":
...}`` and exit 1. The command writes the store only: the kiosk process lights the slot.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from kiosk import audit
from kiosk.app.words import say, why
from kiosk.audit_views import audit_now, audit_report, recent_audits
from kiosk.config import Config
from kiosk.ports import Clock
from kiosk.store import SqliteUnitOfWork
from kiosk.timefmt import local_time

Command = Callable[..., argparse.ArgumentParser]
TIME_FORMAT = "%Y-%m-%d %H:%M"  # the report's times, in the community's time zone
ACTIONS = ("start", "status", "next", "missing", "extra", "pause", "resume", "end", "report")


def add_audit_command(command: Command, common: argparse.ArgumentParser,
                      config: Callable[[argparse.Namespace], Config],
                      shell_actor: Callable[[], str]) -> None:
    """Register ``shelf audit ACTION`` on the CLI's parser."""
    p = command("audit", lambda args, clock: cmd_audit(args, clock, config, shell_actor),
                say("help_audit"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in ACTIONS:
        a = actions.add_parser(name, parents=[common], help=say(f"help_audit_{name}"),
                               description=say(f"help_audit_{name}"))
        a.add_argument("--json", action="store_true", help=say("help_audit_json"))
        if name == "missing":
            a.add_argument("parcel", help=say("help_audit_parcel"))
        elif name == "extra":
            a.add_argument("waybill", nargs="?", default="", help=say("help_audit_waybill"))
        elif name == "report":
            a.add_argument("id", nargs="?", type=int, help=say("help_audit_id"))


def cmd_audit(args: argparse.Namespace, clock: Clock,
              load: Callable[[argparse.Namespace], Config],
              shell_actor: Callable[[], str]) -> int:
    from kiosk.community import open_store

    config = load(args)
    conn = open_store(config)
    try:
        uow, by = SqliteUnitOfWork(conn), shell_actor()
        try:
            if args.action == "report":
                return _report(conn, args, config)
            _act(args, uow, clock, by)
        except audit.AuditRefused as refused:
            if args.json:
                print(json.dumps({"error": refused.code, "message": str(refused)},
                                 ensure_ascii=False))
            else:
                print(say("error", text=why(refused.code) or str(refused)), file=sys.stderr)
            return 1
        _status(conn, args.json)
        return 0
    finally:
        conn.close()


def _act(args: argparse.Namespace, uow: SqliteUnitOfWork, clock: Clock, by: str) -> None:
    action = args.action
    if action == "start":
        audit.start(uow, clock, by)
    elif action == "next":
        audit.all_here(uow, clock, by, "shell")
    elif action == "missing":
        audit.missing(uow, clock, by, _parcel_on_list(uow, args.parcel))
    elif action == "extra":
        audit.extra(uow, clock, by, args.waybill)
    elif action == "pause":
        audit.pause(uow, clock, by)
    elif action == "resume":
        audit.resume(uow, clock, by)
    elif action == "end":
        audit.end(uow, clock, by)


def _parcel_on_list(uow: SqliteUnitOfWork, text: str) -> int:
    """The parcel on the list of the slot being checked that ``text`` names: ``#12`` (its
    number), its waybill, or the waybill's end (when one parcel there has it)."""
    current = uow.audits.open()
    listed = uow.audits.listed(current.slot) if current and current.slot else []
    wanted = text.strip().upper()
    if wanted.startswith("#") and wanted[1:].isdigit():
        found = [p.id for p in listed if p.id == int(wanted[1:])]
    else:
        found = [p.id for p in listed if p.ref.upper() == wanted] or \
            [p.id for p in listed if wanted and p.ref.upper().endswith(wanted)]
    if len(found) != 1:
        raise audit.NotListed(f"{text!r} names {len(found)} parcels on the list, not one")
    return found[0]


def _status(conn: Any, as_json: bool) -> None:
    now = audit_now(conn)
    if as_json:
        last = None if now is not None else (recent_audits(conn, 1) or [None])[0]
        print(json.dumps(now if now is not None else {"audit": None, "status": None,
                                                      "last": last and last["id"]},
                         ensure_ascii=False))
        return
    if now is None:
        print(say("audit_none"))
        return
    print(say(f"audit_status_{now['status']}", audit=now["audit"], slot=now["slot"],
              checked=now["slots_checked"], left=now["slots_to_check"]))
    for p in now["listed"]:
        found = say("audit_found_in", slot=p["found_in"]) if p["found_in"] else \
            say("audit_marked_missing") if p["missing"] else ""
        print(f"  #{p['parcel']}  {p['household']}  {p['waybill_tail']}  {found}".rstrip())
    for problem in now["problems"]:
        print("  " + _problem_line(problem))


def _problem_line(problem: dict[str, Any]) -> str:
    return say(f"audit_problem_{problem['kind']}", slot=problem["slot"],
               home=problem["home_slot"] or "", parcel=problem["parcel"] or "",
               household=problem["household"] or "",
               waybill=problem["waybill_tail"] or "").rstrip()


def _report(conn: Any, args: argparse.Namespace, config: Config) -> int:
    audit_id = args.id
    if audit_id is None:
        newest = recent_audits(conn, 1)
        audit_id = newest[0]["id"] if newest else 0
    report = audit_report(conn, audit_id)
    if report is None:
        raise audit.NoAudit(f"there is no audit {audit_id}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    def local(stored: str | None) -> str:
        return local_time(stored, config.community.timezone, TIME_FORMAT) if stored else "-"

    print(say("audit_report_head", audit=report["audit"], status=say(
        f"audit_state_{report['status']}"), started=local(report["started_at"]),
        by=report["started_by"], ended=local(report["ended_at"])))
    print(say("audit_report_counts", checked=report["slots_checked"],
              left=report["slots_left"], problems=len(report["problems"]),
              people=", ".join(report["people"])))
    for problem in report["problems"]:
        print("  " + _problem_line(problem))
    return 0
