"""The `shelf` command: one entry point for the kiosk, the web site, the worker and the tools."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from kiosk.app.signals import stop_on_signals
from kiosk.app.words import choose_language, has, language, say, use
from kiosk.clock import clock_from_env
from kiosk.config import Config, config_path, load_config
from kiosk.domain import HouseholdId
from kiosk.errors import NotAStore, ShelfError
from kiosk.outcome import Outcome
from kiosk.ports import Clock, Decoder, Frame, Symbol
from kiosk.store import SqliteUnitOfWork

log = logging.getLogger("shelf")


def main(argv: Sequence[str] | None = None) -> None:
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
        code = 2
    sys.exit(code or 0)


def _one_line(exc: Exception) -> str:
    """The error as one line: an OSError names its file and what went wrong."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else exc.filename
        return f"{target}: {exc.strerror.lower()}"
    return " ".join(str(exc).split())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shelf", parents=[_common_options(None, False)],
                                     description="The contactless delivery shelf.")
    # Options are accepted before or after the command; after it, they only override.
    common = _common_options(argparse.SUPPRESS, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace, Clock], int | None],
                help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("init", cmd_init, "write a sample community (config, households) and database")
    p.add_argument("directory", type=Path)
    p.add_argument("--admin-password", help="password of the 'admin' login (default: random)")
    p.add_argument("--group-readable", action="store_true",
                   help="let the files' group read them too (0640, not 0600): for services "
                   "that share a group")
    p.add_argument("--database", type=Path, help="where the database goes (default: shelf.db "
                   "beside the config); the installer's is /var/lib/shelf/shelf.db")

    p = command("households", cmd_households, "manage the household list")
    p.add_argument("action", choices=["import"])
    p.add_argument("file", type=Path, help="CSV (UTF-8, UTF-8 with a BOM, or GBK) or XLSX: "
                   "building,room,name,phone,email,under_observation (or 楼栋,房号,姓名,电话,"
                   "邮箱,居家观察); several phones separated by ';'")
    p.add_argument("--apply", action="store_true",
                   help="store the list (all rows or, if any is refused, none); "
                   "without it, only show what would change")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")

    p = command("label", cmd_label, "print a parcel label's payload; optionally the label to "
                "print (QR code, building-room, reference, date) for a household of the list")
    p.add_argument("--household", required=True, help="building-room, e.g. 24-2304")
    p.add_argument("--ref", help="the parcel's reference, e.g. the carrier's number")
    p.add_argument("--png", type=Path, help="write the label as PNG here (99.1 x 38.1 mm, 300 dpi)")
    p.add_argument("--pdf", type=Path, help="write the label as PDF here (99.1 x 38.1 mm)")
    p.add_argument("--fresh", action="store_true",
                   help="fresh food: signed into the label; its door task goes first")

    p = command("labels", cmd_labels, "print an A4 sheet of labels, one per row of a CSV "
                "(a group-buy delivery): 14 a page, 99.1 x 38.1 mm")
    p.add_argument("--csv", type=Path, required=True, help="columns household,ref or "
                   "building,room,ref (楼栋,房号,单号); a blank ref gets a new one")
    p.add_argument("--pdf", type=Path, required=True, help="write the sheet here")
    p.add_argument("--json", action="store_true", help="print {pdf, labels, pages} as JSON")

    p = command("scan", cmd_scan, "do what the kiosk does for each image; print the outcome")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per image")

    p = command("run", cmd_run, "run the kiosk loop: camera, LEDs, buzzer")
    p.add_argument("--camera", help="override [kiosk] camera: device:N, video:FILE, images:DIR")

    p = command("expect", cmd_expect, "announce a parcel by its carrier's tracking number: when "
                "scanned, the gate asks the courier to confirm it from the waybill")
    p.add_argument("--household", required=True, help="building-room, e.g. 24-2304")
    p.add_argument("--code", required=True, help="the tracking number, e.g. SF1234567890")
    p.add_argument("--fresh", action="store_true",
                   help="fresh food: it checks in marked fresh (its door task goes first)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")

    p = command("checkin", cmd_checkin, "check a parcel in by its carrier's tracking number and "
                "the room on its waybill, as the gate's keypad does")
    p.add_argument("--code", required=True, help="the tracking number, e.g. SF1234567890")
    p.add_argument("--room", help="building-room from the waybill, e.g. 24-2304")
    p.add_argument("--phone-tail", metavar="NNNN",
                   help="the last 4 digits of the phone on the waybill (138****1234: 1234); "
                   "for an announced code, alone, it confirms the announced household")
    p.add_argument("--keep-room", action="store_true",
                   help="check in to --room even where the phone does not settle it (marked "
                   "'room not confirmed' for the staff)")
    p.add_argument("--fresh", action="store_true",
                   help="fresh food: its door task goes first and its team is told at once")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")

    p = command("notices", cmd_notices, "send queued notices (runs until stopped), or retry "
                "notices that gave up")
    p.add_argument("action", nargs="?", choices=["send", "retry"], default="send",
                   help="send (the default) or retry: make failed notices pending again")
    p.add_argument("--once", action="store_true", help="send everything due, then exit")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--id", dest="ids", type=int, nargs="+", action="extend", metavar="N",
                       help="retry: these notices")
    which.add_argument("--all-failed", action="store_true", help="retry: every failed notice")
    p.add_argument("--json", action="store_true", help="retry: print the result as JSON")

    p = command("stills", cmd_stills, "delete the camera's stills older than [kiosk] "
                "stills_days now (the kiosk also does it hourly)")
    p.add_argument("action", choices=["prune"])
    p.add_argument("--json", action="store_true", help="print {deleted, days, before} as JSON")
    _door_commands(command)

    p = command("web", cmd_web, "serve the staff site")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: "
                   "this machine only; 0.0.0.0 for the LAN, better behind a TLS proxy)")
    p.add_argument("--port", type=int, default=8080)

    p = command("hash-password", cmd_hash_password,
                "read a password on standard input; print its hash (argon2id)")
    from kiosk.app.staff_cli import add_users_command  # shelf users add|disable|reset|list

    add_users_command(command, common, _config, _shell_actor)

    _observation_parser(command("observation", cmd_observation, "apply a day's observation "
                                "list, or compare two (CSV in UTF-8 or GBK, or XLSX)"), common)

    from kiosk.app.ops_cli import add_ops_commands  # shelf backup|restore|doctor|selftest

    add_ops_commands(command, _config)

    p = command("demo", cmd_demo, "run the whole flow on this machine with a replayed camera")
    p.add_argument("--dir", type=Path, default=Path("demo-data"), help="where the demo lives")
    p.add_argument("--port", type=int, default=8080, help="web port (0: any free port)")
    p.add_argument("--fast", action="store_true", help="replay the video 3 times faster")
    p.add_argument("--exit-when-done", action="store_true",
                   help="stop after the replay instead of serving until Ctrl-C")
    return parser


def _common_options(config_default: object, verbose_default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=config_default,
                        help="the community's configuration (default: $SHELF_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", default=verbose_default,
                        help="log more")
    common.add_argument("--lang", choices=("zh", "en"), default=config_default,
                        help="the language of the lines for people (default: $SHELF_LANG, "
                        "else zh in a zh_* locale, else en); --json is the same in both")
    return common


def _config(args: argparse.Namespace) -> Config:
    from kiosk.community import warn_if_exposed

    config = load_config(config_path(args.config))
    warn_if_exposed(config.path)  # it holds the label secret and the staff's password hashes
    return config


def cmd_init(args: argparse.Namespace, clock: Clock) -> int:
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
    print(say("init_database", database=config.database, counts=report.counts()))
    print(say("init_login", password=password))
    print(say("init_next", config=config.path.resolve()))
    return 0


def cmd_households(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.households import import_households
    from kiosk.services import Rules

    config = _config(args)
    report = import_households(SqliteUnitOfWork(open_store(config)), config.community.buildings,
                               args.file, clock.now(), _shell_actor(), apply=args.apply,
                               rules=Rules.from_config(config))
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.summary())
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


def _why(refusal: dict[str, object]) -> str:
    """Why it was refused: in English the core's message; in Chinese worded from its stable
    code where the catalogue has it (households masked), else the core's message."""
    from kiosk.domain import mask_household

    key = f"why_{refusal.get('error')}"
    if language() == "en" or not has(key):
        return str(refusal["message"])
    return say(key, **{k: mask_household(str(refusal[k])) for k in ("expected", "given")
                       if refusal.get(k)})


def cmd_expect(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.services import expect

    uow = SqliteUnitOfWork(open_store(_config(args)))
    try:
        done = expect(args.household, args.code, uow, clock, actor=_shell_actor(),
                      fresh=args.fresh)
    except ShelfError as exc:
        refusal = {"error": exc.code, "message": str(exc), "suggestions": list(exc.suggestions)}
        print(json.dumps(refusal, ensure_ascii=False) if args.json else _refusal_line(refusal),
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
        print(_refusal_line(data), file=sys.stderr)
    return 0 if outcome.action == "checkin" else 1


def _refusal_line(refusal: dict[str, object]) -> str:
    """A refusal for a terminal; suggested households masked (--json gives them whole)."""
    from kiosk.domain import mask_household

    near = [mask_household(str(h)) for h in refusal.get("suggestions") or ()]
    hint = say("refused_hint", rooms=", ".join(near)) if near else ""
    return say("refused", code=refusal["error"], why=_why(refusal), hint=hint)


def cmd_run(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store_when_space

    config = _config(args)
    _check_store(config)
    stop = stop_on_signals()
    conn = open_store_when_space(config, stop)
    if conn is None:
        return 0
    with _held(config, "run"):  # once open: the store's own checks name a bad folder first
        return _run_kiosk(args, config, clock, conn, stop)


def _check_store(config: Config) -> None:
    """Refuse to start on a damaged or missing database (``kiosk.backup.check_store``)."""
    from kiosk.backup import check_store
    from kiosk.config import backup_dir

    started = time.monotonic()
    check_store(config.database, backup_dir(config))
    log.debug("database checked (quick_check) in %.2f s", time.monotonic() - started)


def _held(config: Config, name: str, *, shared: bool = False):
    """The lock `shelf restore` looks for: this command has the database open."""
    from kiosk.backup import hold_lock

    return hold_lock(config.database, name, shared=shared)


def _run_kiosk(args: argparse.Namespace, config: Config, clock: Clock,
               conn: sqlite3.Connection, stop: threading.Event) -> int:
    from kiosk.app.sdnotify import notify
    from kiosk.app.watchdog import KioskWatch
    from kiosk.app.wiring import build_scanner
    from kiosk.store import close_store

    try:
        scanner = build_scanner(config, conn, clock, camera=args.camera)
    except BaseException:
        conn.close()
        raise
    # systemd (Type=notify) hears READY once a frame is read and the lights are restored,
    # then WATCHDOG=1 pings while frames keep coming and the store answers.
    scanner.on_tick = KioskWatch(scanner, conn, clock,
                                 stale_s=config.kiosk.camera_freeze_s).tick
    notify("STATUS=starting: waiting for the first frame")
    log.info("kiosk running on %s; %d slots", args.camera or config.kiosk.camera,
             len(config.layout.slots))
    pruner = _prune_stills_meanwhile(config, clock, stop)
    try:
        frames = scanner.run(stop)
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
    return 0


def _prune_stills_meanwhile(config: Config, clock: Clock,
                            stop: threading.Event) -> threading.Thread:
    """Delete old stills at start and hourly, on a thread with its own connection."""
    from kiosk.stills import run_pruner
    from kiosk.store import connect, without_waiting_for_the_disk

    conn = connect(config.database)  # the kiosk's own connection has just opened it

    def prune() -> None:
        # A prune lost to a power cut is simply done again: its commits need no fsync, so a
        # check-in never waits behind one on the SD card.
        try:
            with without_waiting_for_the_disk(conn):
                run_pruner(SqliteUnitOfWork(conn), clock, config.kiosk.stills_days, stop)
        finally:
            conn.close()

    thread = threading.Thread(target=prune, name="stills-pruner", daemon=True)
    thread.start()
    return thread


def cmd_stills(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.stills import prune_stills

    config = _config(args)
    conn = open_store(config)
    try:
        report = prune_stills(SqliteUnitOfWork(conn), clock, config.kiosk.stills_days)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(say("stills_pruned", deleted=report.deleted, days=report.days))
    return 0


def cmd_notices(args: argparse.Namespace, clock: Clock) -> int:
    from kiosk.community import open_store
    from kiosk.notices.delivery import build_channels, deliver_due, delivery_limits, run_worker
    from kiosk.notices.reminders import remind_due
    from kiosk.services import Rules
    from kiosk.tasks import hand_over_due, tell_new_tasks

    if args.action == "retry":
        return _retry_notices(args, clock)
    if args.ids or args.all_failed or args.json:
        raise ValueError(say("notices_flags"))
    config = _config(args)
    _check_store(config)
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
        print(deliver_due(uow, channels, clock, timezone=zone, batch=None,
                          language=config.community.language, **limits))
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
    from web.gate import remember_check

    config = _config(args)
    damaged = False
    try:
        _check_store(config)
    except NotAStore as exc:
        # Serve all the same: the gate screen then says "out of order, see staff" (and every
        # staff page why) instead of the browser's "cannot connect".
        log.error("%s; serving the out-of-order page meanwhile", exc)
        damaged = True
    # The kiosk's decoder reads the door stickers staff photograph at the door.
    app = create_app(config, clock=clock, decoder=DecoderChain())
    remember_check(config.database, damaged)  # the gate's first poll need not check again
    try:
        server = create_server(app, host=args.host, port=args.port, threads=4, ident="shelf")
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
    a = actions.add_parser("apply", parents=[common], help="show what a day's list changes, "
                           "then apply it in one transaction")
    a.add_argument("file", type=Path, help="CSV or XLSX: 户号 (household) or 楼栋,房号 "
                   "(building,room), and 状态 (status: 新增/解除, added/released); without a "
                   "status column, the full list of who is under observation")
    a.add_argument("--date", required=True, type=_day, help="the day the list is for, "
                   "e.g. 2026-11-29")
    a.add_argument("--source", default="", help="who sent the list, e.g. committee")
    a.add_argument("--dry-run", action="store_true", help="only show what would change")
    a.add_argument("--apply-valid-rows", action="store_true", help="apply a list with "
                   "problems anyway: every row but the unknown, duplicate and conflicting ones")
    a.add_argument("--json", action="store_true", help="print the report as one JSON object")
    c = actions.add_parser("compare", parents=[common], help="where two lists for the same "
                           "day disagree; exit 1 when they do")
    c.add_argument("a", type=Path, help="one list (e.g. the committee's)")
    c.add_argument("b", type=Path, help="the other (e.g. the property company's)")
    c.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(say("bad_day", text=text)) from None


def cmd_observation(args: argparse.Namespace, clock: Clock) -> int:
    """Apply: 0 applied (or a dry run without problems), 1 when problems kept it from applying.

    Compare: 0 when the lists agree and neither has a problem, 1 otherwise.
    """
    from kiosk.observation_lists import compare_lists, read_list
    from kiosk.observation_register import apply_list

    if args.action == "compare":
        comparison = compare_lists(read_list(args.a.read_bytes(), args.a.name),
                                   read_list(args.b.read_bytes(), args.b.name))
        print(json.dumps(comparison.as_json(), ensure_ascii=False) if args.json
              else comparison.summary())
        return 0 if comparison.same else 1
    from kiosk.community import open_store
    from kiosk.services import Rules

    config = _config(args)
    conn = open_store(config)
    try:
        report = apply_list(args.file.read_bytes(), args.file.name, SqliteUnitOfWork(conn),
                            Rules.from_config(config), clock, list_date=args.date,
                            source=args.source, actor=_shell_actor(), dry_run=args.dry_run,
                            confirm=args.apply_valid_rows)
    finally:
        conn.close()
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.summary())
    clean_preview = args.dry_run and report.readable and not report.problems
    return 0 if report.applied or report.already is not None or clean_preview else 1


def _door_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """The door delivery commands (``kiosk.tasks``): tasks, deliver, stickers, counts."""
    p = command("tasks", cmd_tasks, "list open door tasks (fresh food first, then the oldest, "
                "by building), after handing over those of teams gone off duty")
    p.add_argument("--team", help="only this team's tasks (a [[teams]] id)")
    p.add_argument("--json", action="store_true", help="print the tasks as one JSON object")

    p = command("deliver", cmd_deliver, "confirm a door task at the door: by the door's sticker "
                "or the room; any other door is refused")
    p.add_argument("task", type=int, help="the door task's number")
    door = p.add_mutually_exclusive_group(required=True)
    door.add_argument("--door-code", metavar="PAYLOAD", help="what the door's QR sticker says "
                      "(DD1:24-2304:...)")
    door.add_argument("--room", help="the room on the door, e.g. 24-2304")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")

    p = command("stickers", cmd_stickers, "print door stickers: one signed QR code per "
                "household of a building, the room in large type (A4, 6 a page)")
    p.add_argument("--building", type=int, required=True, help="the building's number, e.g. 24")
    p.add_argument("--pdf", type=Path, required=True, help="write the stickers here")
    p.add_argument("--json", action="store_true", help="print {pdf, building, stickers, pages}")

    p = command("counts", cmd_counts, "a day's numbers per team and person: checked in, "
                "delivered to doors, handed out at the shelf, still waiting, escalated")
    p.add_argument("--date", help="the community's day, YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")


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
        print(_refusal_line(outcome.as_json()), file=sys.stderr)
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
    conn = open_store(config)
    try:
        counts = daily_counts(conn, day, zone, [t.id for t in config.teams])
    finally:
        conn.close()
    if args.json:
        print(json.dumps(counts, ensure_ascii=False))
        return 0
    print(f"{counts['date']}: " + _counted(counts["totals"]))
    for team in counts["teams"]:
        print(say("counts_team", team=_team(config, team["team"])) + _counted(team))
    for person in counts["people"]:
        who = (say("counts_person_team", person=person["person"],
                   team=_team(config, person["team"])) if person["team"]
               else say("counts_person", person=person["person"]))
        print(who + _counted(person))
    return 0


def _counted(counts: dict[str, object]) -> str:
    """`checked in 3, delivered 1`: a row of `shelf counts`, names (person, team) left out."""
    return say("count_sep").join(say("count_pair", what=say(f"count_{k}"), n=v)
                                 for k, v in counts.items() if k not in ("person", "team"))
