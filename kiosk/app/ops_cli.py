"""`shelf backup`, `shelf restore`, `shelf doctor`, `shelf selftest`: looking after the Pi.

The stopping command of `shelf restore --stop` is ``systemctl stop`` of the shelf's services
(``services``: shelf-sync too on a gate of a compound); ``SHELF_STOP_COMMAND`` replaces it
(the tests stop their own `shelf run` with it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.app.words import language, say
from kiosk.backup import (
    BackupFailed,
    RestoreRefused,
    Words,
    check_backup,
    make_backup,
    restore,
    running,
)
from kiosk.config import Config, backup_dir
from kiosk.ports import Clock

Command = Callable[..., argparse.ArgumentParser]
SERVICES = ("shelf-kiosk", "shelf-notices", "shelf-web")
COMPOUND_GATE = ("shelf-sync",)  # a gate of a compound runs its sync beside them
STOP_ENV = "SHELF_STOP_COMMAND"
STOP_WAIT_S = 30.0  # a stopped kiosk turns its LEDs off and closes the camera first


def add_ops_commands(command: Command, config: Callable[[argparse.Namespace], Config]) -> None:
    """Register backup, restore, doctor and selftest on the CLI's parser."""
    p = command("backup", lambda a, c: cmd_backup(a, c, config), say("help_backup"))
    p.add_argument("--dest", type=Path, help=say("help_backup_dest"))
    p.add_argument("--keep", type=int, help=say("help_backup_keep"))
    p.add_argument("--json", action="store_true",
                   help=say("help_backup_json"))

    p = command("restore", lambda a, c: cmd_restore(a, c, config), say("help_restore"))
    p.add_argument("file", type=Path, help=say("help_restore_file"))
    p.add_argument("--stop", action="store_true",
                   help=say("help_restore_stop", services=" ".join(SERVICES + COMPOUND_GATE)))

    from kiosk.app.doctor import cmd_doctor
    from kiosk.app.selftest import cmd_selftest

    p = command("doctor", lambda a, c: cmd_doctor(a, c, config), say("help_doctor"))
    p.add_argument("--json", action="store_true", help=say("help_doctor_json"))
    p.add_argument("--aim", type=float, nargs="?", const=30.0, metavar="SECONDS",
                   help=say("help_doctor_aim"))

    p = command("selftest", lambda a, c: cmd_selftest(a, c, config), say("help_selftest"))
    p.add_argument("--seconds", type=float, default=0.5, help=say("help_selftest_seconds"))
    p.add_argument("--button-seconds", type=float, default=15.0,
                   help=say("help_selftest_button_seconds"))


def cmd_backup(args: argparse.Namespace, clock: Clock,
               load: Callable[[argparse.Namespace], Config]) -> int:
    from kiosk.store import connect

    config = load(args)
    keep = args.keep if args.keep is not None else config.backup.keep
    if keep < 1:
        raise ValueError(say("backup_keep"))
    conn = connect(config.database)  # reads only (and adds its event): no slots synced
    try:
        report = make_backup(conn, args.dest or backup_dir(config), clock.now(), keep=keep,
                             copy_to=config.backup.copy_to)
    except BackupFailed as exc:
        raise BackupFailed(_worded(str(exc), exc.words)) from exc
    finally:
        conn.close()
    for warning, words in zip(report.warnings, report.notes, strict=True):
        print(say("warning", text=_worded(warning, words)), file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
        return 0
    for old in report.removed:
        print(say("backup_removed", path=old))
    if report.copied:
        print(say("backup_copied", path=report.copied))
    print(report.path)  # last: scripts take the new file's path from here
    return 0


def cmd_restore(args: argparse.Namespace, clock: Clock,
                load: Callable[[argparse.Namespace], Config]) -> int:
    config = load(args)
    try:
        check_backup(args.file)  # before anything is stopped
        if args.stop:
            _stop_services(config)
        report = restore(args.file, config.database, clock.now())
    except RestoreRefused as exc:
        raise RestoreRefused(_worded(str(exc), exc.words)) from exc
    for aside in report.kept_aside:
        print(say("restore_aside", path=aside))
    for stale in report.removed:
        print(say("restore_removed", path=stale))
    print(say("restore_done", backup=report.restored, database=report.database))
    if report.epoch and config.centre is not None:  # a gate of a compound
        print(say("restore_epoch", epoch=report.epoch))
    if args.stop:
        print(say("restore_start", services=" ".join(services(config))))
    return 0


def services(config: Config) -> tuple[str, ...]:
    """The shelf's services on this machine: the three, and the sync on a gate of a compound
    (elsewhere it is not enabled, and started it would only stop on its config error)."""
    gate = config.centre is not None and not config.centre.is_centre
    return SERVICES + (COMPOUND_GATE if gate else ())


def _worded(english: str, words: Words | None) -> str:
    """The core's own text in English; in Chinese the catalogue's words for its key."""
    if words is None or language() == "en":
        return english
    key, values = words
    return say(key, **values)


def _stop_services(config: Config) -> None:
    """Run the stopping command; wait until no shelf process holds the database."""
    database = config.database
    command = shlex.split(os.environ.get(STOP_ENV, "")) or ["systemctl", "stop",
                                                            *services(config)]
    print(say("restore_stopping", command=" ".join(command)))
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise RestoreRefused(say("restore_stop_failed", command=" ".join(command),
                                 code=done.returncode))
    deadline = time.monotonic() + STOP_WAIT_S
    while running(database):
        if time.monotonic() > deadline:
            raise RestoreRefused(say("restore_still_running", names=", ".join(running(database))))
        time.sleep(0.1)
