"""Backups that restore, and a damaged store never replaced by an empty one.

Everything runs the real `shelf` command on a real SQLite file; the damage is real too: a file
cut in half (a power cut while copying it) and a page of garbage in its middle (a failing card).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from conftest import PATIENCE_S, check_in, real_time_since

from kiosk.app.sim.label_video import Scene, qr_matrix, write_label_video
from kiosk.backup import hold_lock, make_backup
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.store import integrity_problems

ENV = {**os.environ, "SHELF_LANG": "en", "PYTHONUNBUFFERED": "1"}
NOW = "2026-11-29T03:00:00+08:00"
PAGE = 4096


def shelf(config, *args: str, now: str = NOW, env: dict | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *args], capture_output=True, text=True, timeout=timeout,
                          env={**ENV, "SHELF_NOW": now, **(env or {})})


def stamped(name: str) -> datetime:
    """The moment in a backup's or a set-aside file's name (``...20261128T190000Z...``)."""
    return datetime.strptime(re.search(r"\d{8}T\d{6}Z", name)[0], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=UTC)


def at_shelf_now(name: str, now: str, started: float) -> bool:
    """The name is stamped at SHELF_NOW ``now``, moved on by no more than the command took
    since ``started`` (SHELF_NOW runs on: a busy machine's slow start moves it a second)."""
    moved_on = stamped(name) - datetime.fromisoformat(now)
    return timedelta(0) <= moved_on <= real_time_since(started)


def parcels(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT household_id, slot_code FROM parcels ORDER BY id").fetchall()
    finally:
        conn.close()


def settle(path: Path) -> None:
    """Everything into the one file (no -wal), as after a clean stop."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def truncate(path: Path) -> None:
    settle(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def garble(path: Path) -> None:
    """A page of garbage in the middle of the file; its size and header stay right."""
    settle(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // PAGE * PAGE
    data[middle:middle + PAGE] = bytes(i * 37 % 251 for i in range(PAGE))
    path.write_bytes(bytes(data))


def garble_table(path: Path, table: str) -> None:
    """A page of garbage where ``table``'s rows start; the schema's pages stay sound."""
    settle(path)
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    with path.open("r+b") as db:
        db.seek((root[0] - 1) * PAGE)
        db.write(bytes(i * 37 % 251 for i in range(PAGE)))


DAMAGE = {"truncated": truncate, "garbled": garble}


def with_backup_settings(config, text: str):
    """The config with its [backup] section's keys replaced by ``text``."""
    from kiosk.config import load_config

    lines = config.path.read_text(encoding="utf-8").split("[backup]\n", 1)[0]
    config.path.write_text(lines + "[backup]\n" + text, encoding="utf-8")
    return load_config(config.path)


# ---- shelf backup --------------------------------------------------------------------------

def test_backup_copies_the_store_checks_it_and_prints_its_path_last(community, conn, clock):
    check_in(conn, community, clock, "24-2304")
    started = time.monotonic()
    done = shelf(community, "backup")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.splitlines()[-1])
    assert path.parent == community.database.parent / "backups"
    assert re.fullmatch(r"shelf-\d{8}T\d{6}Z\.db", path.name)
    assert at_shelf_now(path.name, NOW, started), path.name  # shelf-20261128T190000Z.db
    assert parcels(path) == [("24-2304", "A-12")]
    assert integrity_problems(path, quick=False) == []
    assert not path.with_name(path.name + "-wal").exists()  # one file, to carry away
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # residents' names and phones
    event = conn.execute("SELECT actor, detail FROM events WHERE kind = 'backup_made'").fetchone()
    assert json.loads(event["detail"]) == {"path": str(path), "bytes": path.stat().st_size}


def test_backup_while_the_kiosk_checks_parcels_in(community, clock):
    """Check-ins go on, committed one after another, during the backup: the copy is sound and
    holds the parcels committed before it, none half-written."""
    from kiosk.community import open_store

    stop = threading.Event()

    def kiosk() -> None:
        writer = open_store(community)
        n = 0
        while not stop.is_set():
            n += 1
            check_in(writer, community, clock, "24-2304", ref=f"SF{n:08d}")
        writer.close()

    thread = threading.Thread(target=kiosk)
    thread.start()
    try:
        done = shelf(community, "backup", "--json")
    finally:
        stop.set()
        thread.join()
    assert done.returncode == 0, done.stderr
    copy = Path(json.loads(done.stdout)["path"])
    assert integrity_problems(copy, quick=False) == []
    copied, live = parcels(copy), parcels(community.database)
    assert copied and copied == live[:len(copied)]


def test_backup_keeps_the_newest_generations(community, tmp_path):
    dest = tmp_path / "kept"
    times = ["2026-11-25T03:00:00+08:00", "2026-11-26T03:00:00+08:00",
             "2026-11-27T03:00:00+08:00", "2026-11-28T03:00:00+08:00"]
    for now in times:
        done = shelf(community, "backup", "--dest", str(dest), "--keep", "2", now=now)
        assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in dest.iterdir())  # shelf-20261126T190000Z.db, ...27T...
    assert [stamped(name).date() for name in kept] == [date(2026, 11, 26), date(2026, 11, 27)]
    assert "removed the old backup" in done.stdout


def test_backups_of_the_same_second_are_kept_newest_last(conn, tmp_path):
    """Two backups in one second are ``...Z.db`` then ``...Z-2.db``; "-" sorts before "."
    and "-10" before "-2" by name: the newest must never be the one removed.

    Made by `shelf backup`'s own function at one moment: the command under SHELF_NOW runs on
    from it, and a busy machine would carry some of the eleven into the next second."""
    dest = tmp_path / "kept"
    now = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    for _ in range(11):
        made = make_backup(conn, dest, now, keep=1).path
        assert list(dest.iterdir()) == [made]  # the one just made is kept
    assert made.name == "shelf-20261127T190000Z-11.db"


def test_backup_copies_to_a_mounted_stick_and_warns_when_it_is_missing(community, tmp_path):
    stick = tmp_path / "usb" / "shelf-backups"
    config = with_backup_settings(community, f'keep = 3\ncopy_to = "{stick}"\n')
    missing = shelf(config, "backup")
    assert missing.returncode == 0, missing.stderr
    made = Path(missing.stdout.splitlines()[-1])
    assert made.exists()
    assert "is missing (is the USB stick or the share mounted?)" in missing.stderr
    stick.mkdir(parents=True)
    copied = shelf(config, "backup", now="2026-11-30T03:00:00+08:00")
    assert copied.returncode == 0, copied.stderr
    assert copied.stderr == "" or "warning" not in copied.stderr
    newest = Path(copied.stdout.splitlines()[-1])
    assert (stick / newest.name).read_bytes() == newest.read_bytes()


def test_a_damaged_store_gives_no_backup_and_says_so(community):
    # A page of the events table fails: the store opens (its schema pages are sound), and
    # the copy's own integrity check finds the damage. (Garbage in the schema's pages is
    # refused earlier, at open: the tests below.)
    garble_table(community.database, "events")
    done = shelf(community, "backup")
    assert done.returncode == 2
    assert "failed its integrity check" in done.stderr and "shelf doctor" in done.stderr
    assert list((community.database.parent / "backups").iterdir()) == []  # nothing half-made


# ---- a damaged store at start ------------------------------------------------------------

# One verdict for every command: a one-off check-in must not write into a file the kiosk, the
# notice worker and the gate call damaged.
ONE_OFF = {
    "scan": ["scan", "{label}", "--json"],
    "checkin": ["checkin", "--code", "SF1234567890", "--room", "24-2304", "--phone-tail", "2304"],
    "stills": ["stills", "prune"],
    "counts": ["counts", "--json"],
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", [["run", "--camera", "images:/nonexistent"], ["notices"],
                                     *ONE_OFF.values()], ids=["run", "notices", *ONE_OFF])
def test_a_damaged_store_stops_the_command_at_start(community, damage, command, tmp_path):
    label = tmp_path / "label.png"
    payload = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    cv2.imwrite(str(label), qr_matrix(payload, module_px=6))  # it would check in: a sound label
    command = [part.format(label=label) for part in command]
    made = shelf(community, "backup")
    backup = Path(made.stdout.splitlines()[-1])
    DAMAGE[damage](community.database)
    before = community.database.read_bytes()
    done = shelf(community, *command, timeout=30)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(lines) == 1
    assert f"{community.database} is not a shelf database (empty or damaged: " in lines[0]
    assert f"restore it from a backup: shelf restore {backup} --stop" in lines[0]  # the file
    assert community.database.read_bytes() == before  # never replaced, never written


def test_without_a_backup_the_refusal_says_where_it_looked(community):
    truncate(community.database)
    done = shelf(community, "notices", timeout=30)
    assert done.returncode == 2
    backups = community.database.parent / "backups"
    assert f"restore it from a backup: none in {backups}; shelf restore FILE --stop" in done.stderr


# ---- shelf restore -----------------------------------------------------------------------

@pytest.mark.parametrize("damage", DAMAGE)
def test_restore_brings_a_damaged_store_back_and_keeps_the_damaged_file(community, conn, clock,
                                                                       damage):
    check_in(conn, community, clock, "24-2304")
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    conn.close()
    DAMAGE[damage](community.database)
    damaged = community.database.read_bytes()
    community.database.with_name("shelf.db-shm").write_bytes(b"stale")
    started = time.monotonic()
    done = shelf(community, "restore", str(backup), now="2026-11-29T09:30:00+08:00")
    assert done.returncode == 0, done.stderr
    [aside] = [p for p in community.database.parent.iterdir()  # ...corrupt-20261129T013000Z
               if re.fullmatch(r"shelf\.db\.corrupt-\d{8}T\d{6}Z", p.name)]
    assert at_shelf_now(aside.name, "2026-11-29T09:30:00+08:00", started), aside.name
    assert aside.read_bytes() == damaged  # kept, never deleted
    assert f"kept as {aside}" in done.stdout and "removed the stale" in done.stdout
    assert not community.database.with_name("shelf.db-shm").exists()
    assert parcels(community.database) == [("24-2304", "A-12")]
    assert integrity_problems(community.database) == []
    again = shelf(community, "notices", "--once")  # starts on the restored store
    assert again.returncode == 0, again.stderr


def test_restore_refuses_a_damaged_backup_and_changes_nothing(community, tmp_path):
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    garble(backup)
    before = community.database.read_bytes()
    done = shelf(community, "restore", str(backup))
    assert done.returncode == 2
    assert "is not a sound shelf backup" in done.stderr
    assert community.database.read_bytes() == before
    assert sorted(p.name for p in community.database.parent.glob("shelf.db*")) == ["shelf.db"]


def test_restore_refuses_while_the_kiosk_runs(community):
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    with hold_lock(community.database, "run"):  # what `shelf run` holds for its lifetime
        done = shelf(community, "restore", str(backup))
    assert done.returncode == 2
    assert "the shelf is running (shelf run)" in done.stderr and "--stop" in done.stderr
    assert not list(community.database.parent.glob("shelf.db.*-*"))


def test_restore_refuses_while_any_of_several_notice_workers_runs(community):
    """Notice workers share their lock (several may run at once, through leases); a restore
    still sees one of them."""
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    with hold_lock(community.database, "notices", shared=True), \
            hold_lock(community.database, "notices", shared=True):
        done = shelf(community, "restore", str(backup))
    assert done.returncode == 2
    assert "the shelf is running (shelf notices)" in done.stderr
    assert not list(community.database.parent.glob("shelf.db.*-*"))


def test_restore_stop_stops_the_running_kiosk_first(community, tmp_path):
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    scenes = [Scene(make_label(community.label_secret, HouseholdId.parse("24-2304")), "24-2304")]
    video = write_label_video(tmp_path / "long.avi", scenes * 30, hold_s=1.0, gap_s=0.5)
    env = {**ENV, "SHELF_NOW": NOW}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                              "run", "--camera", f"video:{video}"], stderr=subprocess.PIPE,
                             text=True, env=env)
    try:
        for line in kiosk.stderr:
            if "kiosk running" in line:
                break
        refused = shelf(community, "restore", str(backup))
        assert refused.returncode == 2 and "shelf run" in refused.stderr
        done = shelf(community, "restore", str(backup), "--stop",
                     env={"SHELF_STOP_COMMAND": f"kill -TERM {kiosk.pid}"})
        assert done.returncode == 0, done.stderr
        assert kiosk.wait(timeout=PATIENCE_S) == 0
        assert f"stopping the services: kill -TERM {kiosk.pid}" in done.stdout
        assert "start the services again" in done.stdout
        assert parcels(community.database) == []  # the backup's state: made before any scan
    finally:
        kiosk.kill()
        kiosk.wait()


def test_restore_puts_a_database_where_none_is_left(community, conn, clock):
    check_in(conn, community, clock, "24-2304")
    backup = Path(shelf(community, "backup").stdout.splitlines()[-1])
    conn.close()
    community.database.unlink()
    done = shelf(community, "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert parcels(community.database) == [("24-2304", "A-12")]
    assert oct(community.database.stat().st_mode & 0o777) == "0o600"
