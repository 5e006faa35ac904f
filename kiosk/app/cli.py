"""The `shelf` command: one entry point for the kiosk, the web site, the worker and the tools."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from kiosk.app.reports import counted_line
from kiosk.app.sdnotify import notify
from kiosk.app.signals import stop_on_signals
from kiosk.app.words import (
    choose_language,
    early_language,
    has,
    language,
    say,
    speak_argparse,
    use,
    why,
)
from kiosk.clock import clock_from_env
from kiosk.config import Config, config_path, load_config
from kiosk.domain import HouseholdId
from kiosk.errors import RoomRefused, ShelfError
from kiosk.outcome import Outcome
from kiosk.ports import Clock, Decoder, Frame, Symbol
from kiosk.store import SqliteUnitOfWork

log = logging.getLogger("shelf")


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    use(early_language(argv))  # --help and argparse's errors in the operator's language
    speak_argparse()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        use(choose_language(args.lang))
        code = args.handler(args, clock_from_env())
    except (ShelfError, OSError, ValueError) as exc:
        # What the person starting the shelf can fix gets one line; -v shows where it came from.
        log.debug("the error's traceback:", exc_info=exc)
        print(say("error", text=_one_line(exc)), file=sys.stderr)
        # Under systemd (the kiosk's unit) the line stays in `systemctl status` and for `shelf
        # doctor`: exit 2 is not restarted (RestartPreventExitStatus=2).
        notify(f"STATUS=stopped: {_one_line(exc)}")
        code = 2
    sys.exit(code or 0)


def _one_line(exc: Exception) -> str:
    """The error as one line: an OSError names its file and what went wrong; a room refused
    names it as the operator typed it."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else exc.filename
        return f"{target}: {exc.strerror.lower()}"
    if isinstance(exc, RoomRefused) and (exc.given or exc.typed):
        return _why(_refusal(exc))
    return " ".join(str(exc).split())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shelf", parents=[_common_options(None, False)],
                                     description=say("help_shelf"))
    # Options are accepted before or after the command; after it, they only override.
    common = _common_options(argparse.SUPPRESS, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace, Clock], int | None],
                help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("init", cmd_init, say("help_init"))
    p.add_argument("directory", type=Path)
    p.add_argument("--admin-password", help=say("help_init_admin_password"))
    p.add_argument("--group-readable", action="store_true",
                   help=say("help_init_group_readable"))
    p.add_argument("--database", type=Path, help=say("help_init_database"))

    p = command("households", cmd_households, say("help_households"))
    p.add_argument("action", choices=["import"])
    p.add_argument("file", type=Path, help=say("help_households_file"))
    p.add_argument("--apply", action="store_true",
                   help=say("help_households_apply"))
    p.add_argument("--json", action="store_true", help=say("help_households_json"))

    p = command("label", cmd_label, say("help_label"))
    p.add_argument("--household", required=True, help=say("help_label_household"))
    p.add_argument("--ref", help=say("help_label_ref"))
    p.add_argument("--png", type=Path, help=say("help_label_png"))
    p.add_argument("--pdf", type=Path, help=say("help_label_pdf"))
    p.add_argument("--fresh", action="store_true",
                   help=say("help_label_fresh"))

    p = command("labels", cmd_labels, say("help_labels"))
    p.add_argument("--csv", type=Path, required=True, help=say("help_labels_csv"))
    p.add_argument("--pdf", type=Path, required=True, help=say("help_labels_pdf"))
    p.add_argument("--json", action="store_true", help=say("help_labels_json"))

    p = command("scan", cmd_scan, say("help_scan"))
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help=say("help_scan_json"))

    p = command("run", cmd_run, say("help_run"))
    p.add_argument("--camera", help=say("help_run_camera"))

    p = command("expect", cmd_expect, say("help_expect"))
    p.add_argument("--household", required=True, help=say("help_expect_household"))
    p.add_argument("--code", required=True, help=say("help_expect_code"))
    p.add_argument("--fresh", action="store_true",
                   help=say("help_expect_fresh"))
    p.add_argument("--json", action="store_true", help=say("help_expect_json"))

    p = command("checkin", cmd_checkin, say("help_checkin"))
    p.add_argument("--code", required=True, help=say("help_checkin_code"))
    p.add_argument("--room", help=say("help_checkin_room"))
    p.add_argument("--phone-tail", metavar="NNNN",
                   help=say("help_checkin_phone_tail"))
    p.add_argument("--keep-room", action="store_true",
                   help=say("help_checkin_keep_room"))
    p.add_argument("--fresh", action="store_true",
                   help=say("help_checkin_fresh"))
    p.add_argument("--json", action="store_true", help=say("help_checkin_json"))

    p = command("notices", cmd_notices, say("help_notices"))
    p.add_argument("action", nargs="?", choices=["send", "retry"], default="send",
                   help=say("help_notices_action"))
    p.add_argument("--once", action="store_true", help=say("help_notices_once"))
    which = p.add_mutually_exclusive_group()
    which.add_argument("--id", dest="ids", type=int, nargs="+", action="extend", metavar="N",
                       help=say("help_notices_id"))
    which.add_argument("--all-failed", action="store_true", help=say("help_notices_all_failed"))
    p.add_argument("--json", action="store_true", help=say("help_notices_json"))

    p = command("stills", cmd_stills, say("help_stills"))
    p.add_argument("action", choices=["prune"])
    p.add_argument("--json", action="store_true", help=say("help_stills_json"))
    _door_commands(command)

    p = command("web", cmd_web, say("help_web"))
    p.add_argument("--host", default="127.0.0.1", help=say("help_web_host"))
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--centre", action="store_true", help=say("help_web_centre"))

    p = command("hash-password", cmd_hash_password,
                say("help_hash_password"))
    from kiosk.app.staff_cli import add_users_command  # shelf users add|disable|reset|list

    add_users_command(command, common, _config, _shell_actor)

    _observation_parser(command("observation", cmd_observation, say("help_observation")), common)

    from kiosk.app.audit_cli import add_audit_command  # shelf audit start|status|next ...

    add_audit_command(command, common, _config, _shell_actor)

    from kiosk.app.ops_cli import add_ops_commands  # shelf backup|restore|doctor|selftest

    add_ops_commands(command, _config)

    from kiosk.app.centre_cli import add_centre_commands  # shelf centre ..., shelf sync

    add_centre_commands(command, common, _config, _shell_actor)

    p = command("demo", cmd_demo, say("help_demo"))
    p.add_argument("--dir", type=Path, default=Path("demo-data"), help=say("help_demo_dir"))
    p.add_argument("--port", type=int, default=8080, help=say("help_demo_port"))
    p.add_argument("--fast", action="store_true", help=say("help_demo_fast"))
    p.add_argument("--exit-when-done", action="store_true",
                   help=say("help_demo_exit_when_done"))
    return parser


def _common_options(config_default: object, verbose_default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=config_default,
                        help=say("help_common_config"))
    common.add_argument("-v", "--verbose", action="store_true", default=verbose_default,
                        help=say("help_common_verbose"))
    common.add_argument("--lang", choices=("zh", "en"), default=config_default,
                        help=say("help_common_lang"))
    return common


def _config(args: argparse.Namespace) -> Config:
    from kiosk.community import warn_if_exposed

    config = load_config(config_path(args.config))
    warn_if_exposed(config.path)  # it holds the label secret and the staff's password hashes
    return config


def cmd_init(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.app.reports import household_counts
    from kiosk.community import init_community, open_store
    from kiosk.households import import_households
    from kiosk.services import Rules

    if args.admin_password is not None:
        from kiosk.staff import check_password_text

        check_password_text(args.admin_password)  # before anything is written
    config, password = init_community(args.directory, args.admin_password,
                                      group_readable=args.group_readable,
                                      database=args.database)
    uow = SqliteUnitOfWork(open_store(config))
    report = import_households(uow, config.community.buildings,
                               args.directory / "households.csv", clock.now(), actor="shelf init",
                               apply=True, rules=Rules.from_config(config))
    print(say("init_wrote", config=config.path, households=args.directory / "households.csv"))
    print(say("init_database", database=config.database, counts=household_counts(report)))
    print(say("init_login", password=password))
    if args.admin_password is None:  # made up here: the operator has no other copy
        print(say("init_login_once"))
    print(say("init_next", config=config.path.resolve()))
    return 0


def cmd_households(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.app.reports import household_import
    from kiosk.community import open_store
    from kiosk.households import import_households
    from kiosk.services import Rules

    config = _config(args)
    if args.apply:
        from kiosk.sync.owner import refuse_at_a_gate

        refuse_at_a_gate(config, "households")
    report = import_households(SqliteUnitOfWork(open_store(config)), config.community.buildings,
                               args.file, clock.now(), _shell_actor(), apply=args.apply,
                               rules=Rules.from_config(config))
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json
          else household_import(report))
    return 1 if report.refused else 0


def cmd_label(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.printing import label_for, label_pdf, label_png

    config = _config(args)
    household = HouseholdId.parse(args.household)
    conn = open_store(config)
    try:
        label = label_for(SqliteUnitOfWork(conn), config, household, args.ref, clock.now(),
                          fresh=args.fresh)
    finally:
        conn.close()
    # Draw every file before writing any: a missing font leaves none half-made.
    files = [(path, draw(label)) for path, draw in ((args.png, label_png), (args.pdf, label_pdf))
             if path]
    print(label.payload)
    for path, data in files:
        path.write_bytes(data)
        print(say("wrote", path=path), file=sys.stderr)
    return 0


def cmd_labels(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.printing import pages, sheet_labels, sheet_pdf

    config = _config(args)
    conn = open_store(config)
    try:
        labels = sheet_labels(SqliteUnitOfWork(conn), config, args.csv, clock.now())
    finally:
        conn.close()
    args.pdf.write_bytes(sheet_pdf(labels))
    report = {"pdf": str(args.pdf), "labels": len(labels), "pages": pages(len(labels))}
    print(json.dumps(report, ensure_ascii=False) if args.json
          else say("labels_wrote", **report))
    return 0


def cmd_scan(args: argparse.Namespace, clock: Clock) -> int:
    from hardware.camera import read_image
    from kiosk.app.wiring import build_scanner
    from kiosk.community import open_store
    from kiosk.errors import ImageUnreadable

    config = _config(args)
    conn = open_store(config)
    scanner = build_scanner(config, conn, clock, source=_NoFrames())
    scanner.decoder = reads = _Recorded(scanner.decoder)
    unreadable = False
    try:
        for path in args.images:
            reads.symbols = []
            try:
                results = scanner.process_frame(read_image(path), debounce=False)
            except ImageUnreadable as exc:
                unreadable = True
                results = [Outcome.refused(exc)]
            outcome = _scan_outcome(path, results, reads.symbols)
            print(json.dumps(outcome, ensure_ascii=False) if args.json
                  else _scan_line(outcome, config))
    finally:
        scanner.close()
    return 1 if unreadable else 0


class _NoFrames:
    """`shelf scan` feeds frames itself; the scanner's own source stays unused."""

    def read(self) -> None:
        return None

    def close(self) -> None:
        pass


class _Recorded:
    """The scanner's decoder, keeping what it read in the last frame."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder, self.symbols = decoder, []

    def decode(self, frame: Frame) -> list[Symbol]:
        self.symbols = self.decoder.decode(frame)
        return self.symbols


def _scan_outcome(path: Path | None, results: list[Outcome],
                  symbols: list[Symbol] | None = None) -> dict[str, object]:
    """One object per image (None: typed, no image): the first result's fields, and every
    result under 'results'. The shape of `shelf scan --json` and `shelf checkin --json`.

    With the ``symbols`` decoded from the image (one result each, in order: `shelf scan` acts
    on every symbol), each result also says what was read: ``code`` (kept when the result
    names a carrier code already) and ``symbology``; typed input has no symbology.
    """
    entries = [r.as_json() | {"symbology": None} for r in results]
    for entry, symbol in zip(entries, symbols or [], strict=bool(symbols)):
        entry["symbology"] = symbol.kind
        entry["code"] = entry["code"] or _read_text(symbol.data)
    first = entries[0] if entries else (
        Outcome("none", message="no code found").as_json() | {"symbology": None})
    return {"image": path and str(path), **first, "results": entries}


def _read_text(data: bytes) -> str:
    """A decoded symbol as text for a report: UTF-8 (what the decoders give), bytes that are
    not shown as escapes; cut at 200 characters."""
    return data.decode("utf-8", "backslashreplace")[:200]


def _scan_line(outcome: dict[str, object], config: Config) -> str:
    action = str(outcome["action"])
    said = say(f"action_{action}") if has(f"action_{action}") else action
    if action in ("checkin", "pickup"):
        task = outcome.get("door_task")
        door = say("scan_door", task=task["id"], team=_team(config, task["team"])) if task else ""
        return say("scan_done", image=outcome["image"], action=said,
                   household=outcome["household"], slot=outcome["slot"], door=door)
    if action == "needs_room" and outcome.get("announced"):
        return say("scan_needs_check", image=outcome["image"], code=outcome["code"],
                   household=outcome["announced"])
    if action == "needs_room":
        return say("scan_needs_room", image=outcome["image"], code=outcome["code"])
    why = say("no_code") if action == "none" and language() != "en" else _why(outcome)
    return say("scan_other", image=outcome["image"], action=said, why=why)


def _team(config: Config, team_id: str) -> str:
    """A team as said: in English its id (what --team takes), in Chinese its name (物业)."""
    from kiosk.config import in_language

    names = {t.id: t.name for t in config.teams}
    return team_id if language() == "en" else in_language(names.get(team_id, team_id), language())


ROOM_REFUSALS = ("unknown_household", "confusable_room", "phone_mismatch")


def _why(refusal: Mapping[str, object]) -> str:
    """Why it was refused, to the operator at the terminal (staff, like the site's users).

    The households they named are said whole (``given``: the room typed, a door's; a door
    task's ``expected``), as is what they typed that is no room (``typed``); the log and the
    core's message mask them. Otherwise: in English the core's message; in Chinese worded from
    its stable code where the catalogue has it, else the core's message.
    """
    code, given, typed = str(refusal.get("error")), refusal.get("given"), refusal.get("typed")
    if code in ROOM_REFUSALS and given:
        return say(f"why_room_{code}", room=given)
    if code == "unknown_household" and typed:
        return say("why_not_a_room", typed=str(typed).strip())
    named = {k: str(refusal[k]) for k in ("expected", "given") if refusal.get(k)}
    said = (named or language() != "en") and why(code, **named)
    return said or str(refusal["message"])


def _refusal(exc: ShelfError) -> dict[str, object]:
    """A refusal the core raised, as the command says it and ``--json`` gives it."""
    return {"error": exc.code, "message": str(exc), "suggestions": list(exc.suggestions),
            **{k: v for k in ("given", "typed") if (v := getattr(exc, k, None))}}


def cmd_expect(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.services import expect

    uow = SqliteUnitOfWork(open_store(_config(args)))
    try:
        done = expect(args.household, args.code, uow, clock, actor=_shell_actor(),
                      fresh=args.fresh)
    except ShelfError as exc:
        refusal = _refusal(exc)
        shown = {k: refusal[k] for k in ("error", "message", "suggestions")}  # --json's keys
        print(json.dumps(shown, ensure_ascii=False) if args.json else _refusal_line(refusal),
              file=sys.stdout if args.json else sys.stderr)
        return 1
    if args.json:
        print(json.dumps(done.as_json(), ensure_ascii=False))
    else:
        a = done.announcement
        met = say("expect_met", parcel=a.parcel_id) if a.parcel_id else ""
        print(say("expect_new" if done.created else "expect_again", code=a.code,
                  household=a.household_id) + met)
    return 0


def cmd_checkin(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.services import Rules, act_on_carrier

    config = _config(args)
    outcome = act_on_carrier(args.code, SqliteUnitOfWork(open_store(config)),
                             Rules.from_config(config), clock, room=args.room,
                             phone_tail=args.phone_tail, source="cli",
                             keep_room=args.keep_room, fresh=args.fresh)
    data = _scan_outcome(None, [outcome])  # one parser reads `shelf scan` and this
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    elif outcome.action == "checkin":
        unsure = say("checkin_unsure") if outcome.room_confirmed is False else ""
        again = say("checkin_again") if outcome.repeat else ""
        door = (say("checkin_door", task=outcome.door_task.id,
                    team=_team(config, outcome.door_task.team)) if outcome.door_task else "")
        print(say("checkin_done", code=outcome.code, household=outcome.household,
                  slot=outcome.slot, again=again, unsure=unsure, door=door))
    elif outcome.action == "needs_room" and outcome.announced:
        print(say("checkin_needs_check", code=outcome.code, household=outcome.announced))
    elif outcome.action == "needs_room":
        print(say("checkin_needs_room", code=outcome.code))
    else:
        print(_refusal_line({**data, "typed": args.room}), file=sys.stderr)
    return 0 if outcome.action == "checkin" else 1


def _refusal_line(refusal: Mapping[str, object]) -> str:
    """A refusal for a terminal, with the rooms the operator may have meant, whole: they choose
    one of them from the waybill (as the gate's screen offers them)."""
    near = [str(h) for h in refusal.get("suggestions") or ()]
    hint = say("refused_hint", rooms=say("report_list_sep").join(near)) if near else ""
    return say("refused", code=refusal["error"], why=_why(refusal), hint=hint)


def cmd_run(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store_when_space

    config = _config(args)
    stop = stop_on_signals()
    conn = open_store_when_space(config, stop)
    if conn is None:
        return 0
    with _held(config, "run"):  # once open: the store's own checks name a bad folder first
        return _run_kiosk(args, config, clock, conn, stop)


def _held(config: Config, name: str, *, shared: bool = False):
    """The lock `shelf restore` looks for: this command has the database open."""
    from kiosk.backup import hold_lock

    return hold_lock(config.database, name, shared=shared)


def _run_kiosk(args: argparse.Namespace, config: Config, clock: Clock,
               conn: sqlite3.Connection, stop: threading.Event) -> int:
    from kiosk.app.watchdog import KioskWatch
    from kiosk.app.wiring import build_scanner
    from kiosk.store import close_store

    try:
        scanner = build_scanner(config, conn, clock, camera=args.camera)
    except BaseException:
        conn.close()
        raise
    # systemd (Type=notify) hears READY once a frame is read and the lights are restored (or
    # once a camera missing at start is being waited for: the boot does not wait for it),
    # then WATCHDOG=1 pings while frames keep coming and the store answers.
    scanner.on_tick = KioskWatch(scanner, conn, clock,
                                 stale_s=config.kiosk.camera_freeze_s).tick
    notify("STATUS=starting: waiting for the first frame")
    log.info("kiosk running on %s; %d slots", args.camera or config.kiosk.camera,
             len(config.layout.slots))
    pruner = _prune_meanwhile(config, clock, stop)
    try:
        frames = scanner.run(stop)
        ended = not stop.is_set()  # not asked to stop: a replay ended (a live camera never does)
    finally:
        notify("STOPPING=1", "STATUS=stopping: LEDs off, camera released, database closed")
        stop.set()  # the source may have ended by itself: the pruner stops with the kiosk
        pruner.join()
        scanner.close()
        checkpointed = close_store(conn)
        log.info("kiosk stopped: LEDs off, camera released, database closed%s",
                 "" if checkpointed else " (its write-ahead log still in use by another process)")
    log.info("kiosk stopped after %d frames (%d more arrived while one was being decoded)",
             frames, scanner.dropped)
    if ended:
        camera = args.camera or config.kiosk.camera
        notify(f"STATUS=stopped: the replay {camera} ended")
        log.info("the replay %s ended: the kiosk stops, and systemd leaves a clean stop be "
                 "([kiosk] replay = \"loop\" plays it again and again)", camera)
    return 0


def _prune_meanwhile(config: Config, clock: Clock, stop: threading.Event) -> threading.Thread:
    """Delete old stills and uploads at start and hourly, on a thread with its own connection."""
    from kiosk.retention import run_pruner
    from kiosk.store import connect, without_waiting_for_the_disk

    conn = connect(config.database)  # the kiosk's own connection has just opened it

    def prune() -> None:
        # A prune lost to a power cut is simply done again: its commits need no fsync, so a
        # check-in never waits behind one on the SD card.
        try:
            with without_waiting_for_the_disk(conn):
                run_pruner(SqliteUnitOfWork(conn), clock, config.kiosk.stills_days,
                           config.web.uploads_days, stop)
        finally:
            conn.close()

    thread = threading.Thread(target=prune, name="pruner", daemon=True)
    thread.start()
    return thread


def cmd_stills(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.retention import prune_stills, prune_uploads

    config = _config(args)
    conn = open_store(config)
    try:
        uow = SqliteUnitOfWork(conn)
        report = prune_stills(uow, clock, config.kiosk.stills_days)
        uploads = prune_uploads(uow, clock, config.web.uploads_days)
    finally:
        conn.close()
    if args.json:
        print(json.dumps({**report.as_json(), "uploads": uploads.as_json()}))
    else:
        print(say("stills_pruned", deleted=report.deleted, days=report.days))
        print(say("uploads_pruned", deleted=uploads.deleted, days=uploads.days))
    return 0


def cmd_notices(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.app.reports import notices_pass
    from kiosk.community import open_store
    from kiosk.notices.delivery import build_channels, deliver_due, delivery_limits, run_worker
    from kiosk.notices.reminders import remind_due
    from kiosk.services import Rules
    from kiosk.tasks import hand_over_due, tell_new_tasks

    if args.action == "retry":
        return _retry_notices(args, clock)
    if args.ids or args.all_failed or (args.json and not args.once):
        raise ValueError(say("notices_flags"))
    config = _config(args)
    uow, channels = SqliteUnitOfWork(open_store(config)), build_channels(config.channels)
    zone = config.community.timezone
    rules = Rules.from_config(config)

    def handovers() -> None:  # door tasks: hand over at the end of a team's hours, escalate
        hand_over_due(uow, rules, clock)

    def new_tasks() -> None:  # the rest of the new tasks: one list per team
        tell_new_tasks(uow, rules, clock)

    def reminders() -> None:  # parcels still waiting: reminders, return warnings (not at night)
        remind_due(uow, rules, config.notices, clock)

    rounds = (handovers, new_tasks, reminders)  # each on its own: one failing stops no other
    limits = delivery_limits(config.notices)
    if args.once:
        for work in rounds:
            work()
        # Everything due, each notice claimed in its own short transaction as the worker does;
        # a notice retried waits until later, so this ends.
        report = deliver_due(uow, channels, clock, timezone=zone, batch=None,
                             language=config.community.language, **limits)
        print(json.dumps(report.as_json()) if args.json else notices_pass(report))
        return 0
    with _held(config, "notices", shared=True):  # several workers may run: leases
        run_worker(uow, channels, clock, stop_on_signals(), timezone=zone, each_pass=rounds,
                   language=config.community.language,
                   **limits)
    return 0


def _retry_notices(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.notices.delivery import requeue_failed

    if not (args.ids or args.all_failed):
        raise ValueError(say("notices_which"))
    report = requeue_failed(SqliteUnitOfWork(open_store(_config(args))), clock,
                            actor=_shell_actor(), ids=args.ids)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        ids = ", ".join(map(str, report.requeued)) or say("notices_none")
        print(say("notices_requeued", count=len(report.requeued), ids=ids))
        for notice, why in report.skipped:
            print(say("notices_skipped", notice=notice, why=why))
    return 1 if report.skipped else 0


def _shell_actor() -> str:
    """Who asked, for the events: the login of whoever runs the command."""
    import getpass

    try:
        return f"{getpass.getuser()}@shell"
    except (OSError, KeyError):  # no login name in a bare container
        return "admin@shell"


def cmd_web(args: argparse.Namespace, clock: Clock) -> int:
    import contextlib
    import errno

    from waitress import create_server

    from hardware.decoder import DecoderChain
    from web import create_app
    from web.serving import waitress_options

    config = _config(args)
    is_centre = config.centre is not None and config.centre.is_centre
    if args.centre and not is_centre:
        raise ValueError(say("web_not_a_centre", config=config.path))
    if is_centre:  # the compound's site, from its PostgreSQL
        from web.centre import create_centre_app

        app = create_centre_app(config, clock=clock, decoder=DecoderChain())
    else:
        # The kiosk's decoder reads the door stickers staff photograph at the door. A damaged
        # store: the site serves all the same (the gate says "out of order, see staff").
        app = create_app(config, clock=clock, decoder=DecoderChain())
    try:
        # Its limits and whom it trusts follow the config and the site's largest upload.
        server = create_server(app, host=args.host, port=args.port,
                               **waitress_options(config.web))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise OSError(say("port_taken", port=args.port, host=args.host)) from None
    log.info("staff site on http://%s:%d/", args.host, args.port)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it, as waitress.serve did
        server.run()
    return 0


def cmd_hash_password(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.passwords import hash_password
    from kiosk.staff import check_password_text

    print(hash_password(check_password_text(sys.stdin.readline().rstrip("\n"))))
    return 0


def cmd_demo(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.app.demo import run_demo

    if not args.verbose:  # the demo narrates what happens; the logs would repeat it
        logging.getLogger().setLevel(logging.WARNING)

    return run_demo(args.dir, port=args.port, fast=args.fast, clock=clock,
                    exit_when_done=args.exit_when_done, stop=stop_on_signals())


def _observation_parser(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("apply", parents=[common], help=say("help_observation_apply"))
    a.add_argument("file", type=Path, help=say("help_observation_apply_file"))
    a.add_argument("--date", required=True, type=_day, help=say("help_observation_apply_date"))
    a.add_argument("--source", default="", help=say("help_observation_apply_source"))
    a.add_argument("--dry-run", action="store_true", help=say("help_observation_apply_dry_run"))
    a.add_argument("--apply-valid-rows", action="store_true",
                   help=say("help_observation_apply_apply_valid_rows"))
    a.add_argument("--json", action="store_true", help=say("help_observation_apply_json"))
    c = actions.add_parser("compare", parents=[common], help=say("help_observation_compare"))
    c.add_argument("a", type=Path, help=say("help_observation_compare_a"))
    c.add_argument("b", type=Path, help=say("help_observation_compare_b"))
    c.add_argument("--json", action="store_true", help=say("help_observation_compare_json"))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(say("bad_day", text=text)) from None


def cmd_observation(args: argparse.Namespace, clock: Clock) -> int:
    """Apply: 0 applied (or a dry run without problems), 1 when problems kept it from applying.

    Compare: 0 when the lists agree and neither has a problem, 1 otherwise.
    """
    from kiosk.app.reports import comparison, observation_list
    from kiosk.observation_lists import compare_lists, read_list
    from kiosk.observation_register import apply_list

    if args.action == "compare":
        found = compare_lists(read_list(args.a.read_bytes(), args.a.name),
                              read_list(args.b.read_bytes(), args.b.name))
        print(json.dumps(found.as_json(), ensure_ascii=False) if args.json
              else comparison(found))
        return 0 if found.same else 1
    from kiosk.community import open_store
    from kiosk.services import Rules

    config = _config(args)
    if not args.dry_run:
        from kiosk.sync.owner import refuse_at_a_gate

        refuse_at_a_gate(config, "observation")
    conn = open_store(config)
    try:
        report = apply_list(args.file.read_bytes(), args.file.name, SqliteUnitOfWork(conn),
                            Rules.from_config(config), clock, list_date=args.date,
                            source=args.source, actor=_shell_actor(), dry_run=args.dry_run,
                            confirm=args.apply_valid_rows)
    finally:
        conn.close()
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json
          else observation_list(report))
    clean_preview = args.dry_run and report.readable and not report.problems
    return 0 if report.applied or report.already is not None or clean_preview else 1


def _door_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """The door delivery commands (``kiosk.tasks``): tasks, deliver, stickers, counts."""
    p = command("tasks", cmd_tasks, say("help_tasks"))
    p.add_argument("--team", help=say("help_tasks_team"))
    p.add_argument("--json", action="store_true", help=say("help_tasks_json"))

    p = command("deliver", cmd_deliver, say("help_deliver"))
    p.add_argument("task", type=int, help=say("help_deliver_task"))
    door = p.add_mutually_exclusive_group(required=True)
    door.add_argument("--door-code", metavar="PAYLOAD", help=say("help_deliver_door_code"))
    door.add_argument("--room", help=say("help_deliver_room"))
    p.add_argument("--json", action="store_true", help=say("help_deliver_json"))

    p = command("stickers", cmd_stickers, say("help_stickers"))
    p.add_argument("--building", type=int, required=True, help=say("help_stickers_building"))
    p.add_argument("--pdf", type=Path, required=True, help=say("help_stickers_pdf"))
    p.add_argument("--json", action="store_true", help=say("help_stickers_json"))

    p = command("counts", cmd_counts, say("help_counts"))
    p.add_argument("--date", help=say("help_counts_date"))
    p.add_argument("--json", action="store_true", help=say("help_counts_json"))


def cmd_tasks(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.queries import open_tasks
    from kiosk.services import Rules
    from kiosk.tasks import hand_over_due
    from kiosk.timefmt import iso, local_time

    config = _config(args)
    teams = [t.id for t in config.teams]
    if args.team is not None and args.team not in teams:
        raise ValueError(say("not_a_team", team=args.team, teams=", ".join(teams)))
    conn = open_store(config)
    try:
        rounds = hand_over_due(SqliteUnitOfWork(conn), Rules.from_config(config), clock)
        buildings = open_tasks(conn, args.team)
    finally:
        conn.close()
    if args.json:
        print(json.dumps({"now": iso(clock.now()), "team": args.team, **rounds.as_json(),
                          "buildings": buildings}, ensure_ascii=False))
        return 0
    zone = config.community.timezone
    for task_id, before, after in rounds.handed_over:
        print(say("tasks_handed_over", task=task_id, before=_team(config, before),
                  after=_team(config, after)))
    for group in buildings:
        print(say("tasks_building", building=group["building"]))
        for task in group["tasks"]:
            since = local_time(task["created_at"], zone, "%m-%d %H:%M")
            print(say("tasks_line", task=task["id"], household=task["household"],
                      team=_team(config, task["team"]), count=len(task["parcels"]),
                      slots=", ".join(task["slots"]), since=since,
                      fresh=say("tasks_fresh") if task["fresh"] else ""))
    if not buildings:
        print(say("tasks_none"))
    return 0


def cmd_deliver(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.services import Rules
    from kiosk.tasks import act_on_door

    config = _config(args)
    outcome = act_on_door(args.task, args.door_code or args.room,
                          SqliteUnitOfWork(open_store(config)), Rules.from_config(config), clock,
                          actor=_shell_actor(), source="cli")
    if args.json:
        print(json.dumps(outcome.as_json(), ensure_ascii=False))
    elif outcome.action == "delivered":
        print(say("delivered", task=args.task, count=len(outcome.parcels),
                  household=outcome.household))
    else:
        print(_refusal_line({**outcome.as_json(), "typed": args.room}), file=sys.stderr)
    return 0 if outcome.action == "delivered" else 1


def cmd_stickers(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.printing import STICKERS, building_stickers, pages, sticker_pdf

    config = _config(args)
    conn = open_store(config)
    try:
        stickers = building_stickers(SqliteUnitOfWork(conn), config, args.building)
    finally:
        conn.close()
    args.pdf.write_bytes(sticker_pdf(stickers))
    report = {"pdf": str(args.pdf), "building": args.building, "stickers": len(stickers),
              "pages": pages(len(stickers), STICKERS)}
    print(json.dumps(report, ensure_ascii=False) if args.json
          else say("stickers_wrote", **report))
    return 0


def cmd_counts(args: argparse.Namespace, clock: Clock) -> int:
    from datetime import date

    from kiosk.community import open_store
    from kiosk.queries import daily_counts

    config = _config(args)
    zone = config.community.timezone
    try:
        day = date.fromisoformat(args.date) if args.date else clock.now().astimezone(zone).date()
    except ValueError:
        raise ValueError(say("bad_date", text=args.date)) from None
    if config.centre is not None and config.centre.is_centre:
        return _centre_counts(config, day, args.json)
    conn = open_store(config)
    try:
        counts = daily_counts(conn, day, zone, [t.id for t in config.teams])
    finally:
        conn.close()
    if args.json:
        print(json.dumps(counts, ensure_ascii=False))
        return 0
    print(f"{counts['date']}: " + counted_line(counts["totals"]))
    _print_teams_and_people(config, counts)
    return 0


def _centre_counts(config: Config, day: date, as_json: bool) -> int:
    """`shelf counts` on the centre: the compound's day, and each gate's."""
    from kiosk.centre.db import connect
    from kiosk.centre.queries import compound_counts

    assert config.centre is not None
    with connect(config.centre.database) as conn:
        counts = compound_counts(conn, config.community.id, day, config.community.timezone,
                                 [t.id for t in config.teams])
    if as_json:
        print(json.dumps(counts, ensure_ascii=False))
        return 0
    print(f"{counts['date']}: " + counted_line(counts["totals"]))
    for gate in counts["gates"]:
        print(say("counts_gate", gate=gate["gate"]) + counted_line(gate))
    _print_teams_and_people(config, counts)
    return 0


def _print_teams_and_people(config: Config, counts: dict[str, Any]) -> None:
    """The lines of `shelf counts` for each team and each person (a gate's, or the
    compound's: every gate's summed)."""
    for team in counts["teams"]:
        print(say("counts_team", team=_team(config, team["team"])) + counted_line(team))
    for person in counts["people"]:
        who = (say("counts_person_team", person=person["person"],
                   team=_team(config, person["team"])) if person["team"]
               else say("counts_person", person=person["person"]))
        print(who + counted_line(person))

