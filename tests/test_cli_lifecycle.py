"""What the person starting `shelf` sees when its files are missing, damaged, exposed, read-only
or on a full disk: one line that says what to do, never a traceback or a silent new database."""

from __future__ import annotations

import ctypes
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PATIENCE_S
from test_cli_run import label_images, labels

from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label

ENV = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONUNBUFFERED": "1"}


def shelf(config_path, *args, timeout=60, **options):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config_path),
                           *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=timeout, **options)


def one_error_line(done) -> str:
    """The single `shelf: error:` line of a refused start (and no traceback)."""
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("shelf: error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def label_png(config, tmp_path) -> Path:
    import segno

    path = tmp_path / "label.png"
    segno.make(make_label(config.label_secret, HouseholdId.parse("24-2304")), error="m").save(
        str(path), kind="png", scale=6, border=4)
    return path


def commands(config, tmp_path):
    """Every command that opens the store, as the operator would type it."""
    return {
        "run": ["run", "--camera", f"video:{tmp_path / 'absent.avi'}"],
        "scan": ["scan", "--json", label_png(config, tmp_path)],
        "notices": ["notices", "--once"],
        "households": ["households", "import", config.path.parent / "households.csv"],
        "web": ["web", "--port", "0"],
    }


@pytest.mark.parametrize("command", ["run", "scan", "notices", "households", "web"])
def test_no_command_starts_a_new_database_in_place_of_a_missing_one(community, tmp_path,
                                                                   command):
    community.database.unlink()
    done = shelf(community.path, *commands(community, tmp_path)[command])
    line = one_error_line(done)
    assert line == (f"shelf: error: {community.database} does not exist; run `shelf init` to "
                    f"create a community (it is [database] path in {community.path})")
    assert not community.database.exists()
    assert done.stdout == ""  # no "not in the household list" for a parcel


def test_a_truncated_database_is_named_with_what_to_do(community, tmp_path):
    community.database.write_bytes(community.database.read_bytes()[:4096])
    line = one_error_line(shelf(community.path, *commands(community, tmp_path)["run"]))
    assert f"{community.database} is not a shelf database (empty or damaged" in line
    assert "restore it from a backup" in line


def test_an_error_from_the_system_is_one_line_and_v_shows_where(community, tmp_path):
    target = tmp_path / "no-such-folder" / "label.png"
    args = ["label", "--household", "24-2304", "--png", target]
    line = one_error_line(shelf(community.path, *args))
    assert line == f"shelf: error: {target}: no such file or directory"
    verbose = shelf(community.path, "-v", *args)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_init_makes_private_files_and_start_warns_when_they_are_not(tmp_path):
    directory = tmp_path / "community"
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "init", str(directory)],
                          capture_output=True, text=True, env=ENV,
                          preexec_fn=lambda: os.umask(0o022))  # a login shell's umask
    assert done.returncode == 0, done.stderr
    files = [directory / name for name in ("config.toml", "households.csv", "shelf.db")]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
        f.name: 0o600 for f in files}

    quiet = shelf(directory / "config.toml", "notices", "--once")
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr, quiet.stderr
    for f in files:
        f.chmod(0o644)
    loud = shelf(directory / "config.toml", "notices", "--once")
    warnings = [line for line in loud.stderr.splitlines() if "WARNING" in line]
    config, db = directory / "config.toml", directory / "shelf.db"
    assert [w.split(": ", 1)[1] for w in warnings] == [
        f"{config} can be read by every user of this machine (mode 0644); run: chmod 600 {config}",
        f"{db} can be read by every user of this machine (mode 0644);"
        f" run: chmod 600 {db} {db}-wal {db}-shm",  # SQLite gives them the database's mode
    ]


def without_root_powers() -> None:
    """In the child: give up root's right to write any file, so file modes count (as for the
    service's own user). Dropped from the bounding set, the capabilities are gone after exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_is_refused_at_start_in_one_line(community, what):
    target = community.database if what == "file" else community.database.parent
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        done = shelf(community.path, "run", "--camera", "video:absent.avi",
                     preexec_fn=without_root_powers if os.geteuid() == 0 else None)
    finally:
        target.chmod(0o600 if what == "file" else 0o700)
    line = one_error_line(done)
    assert line.startswith(f"shelf: error: cannot write {target}: permission denied (mode ")


HOUSEHOLDS = ["24-2304", "24-2403", "4-1104", "26-202"]


def kiosk_on_a_full_disk(tiny_disk, community, tmp_path, *, free_after: str):
    """Start `shelf run` on a full disk; free space once its log says ``free_after``.

    Return the kiosk's log and the households checked in, in order.
    """
    config = load_config(tiny_disk.path / "community" / "config.toml")
    frames = label_images(tmp_path / "gate", labels(config, *HOUSEHOLDS))
    tiny_disk.fill()
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                              "run", "--camera", f"images:{frames}"], stderr=subprocess.PIPE,
                             text=True, env=ENV)
    seen = []
    for line in kiosk.stderr:
        seen.append(line)
        if free_after in line:
            break
    tiny_disk.free()
    _, rest = kiosk.communicate(timeout=PATIENCE_S)
    log = "".join(seen) + rest
    assert kiosk.returncode == 0, log
    assert "Traceback" not in log and "kiosk stopped after" in log
    saved = sqlite3.connect(config.database).execute(
        "SELECT household_id FROM parcels ORDER BY id").fetchall()
    return log, [h for (h,) in saved]


@pytest.fixture
def full_disk_community(tiny_disk, community):
    shutil.copytree(community.path.parent, tiny_disk.path / "community")
    return tiny_disk


def test_the_kiosk_started_on_a_full_disk_waits_for_space(full_disk_community, community,
                                                          tmp_path):
    log, saved = kiosk_on_a_full_disk(full_disk_community, community, tmp_path,
                                      free_after="waiting for space")
    assert log.count("is full") == 1  # said once, not once a retry
    assert saved == HOUSEHOLDS


def test_the_kiosk_refuses_check_ins_on_a_full_disk_and_goes_on(full_disk_community, community,
                                                                tmp_path):
    web = sqlite3.connect(full_disk_community.path / "community" / "shelf.db")
    web.execute("SELECT COUNT(*) FROM parcels").fetchone()  # the site has the database open
    log, saved = kiosk_on_a_full_disk(full_disk_community, community, tmp_path,
                                      free_after="every check-in is refused")
    assert log.count("every check-in is refused") == 1
    assert saved[-2:] == HOUSEHOLDS[-2:]  # labels shown after the space was freed
    web.close()
