"""`shelf run` as systemd starts it: a replayed camera, mock pins, SIGTERM for a clean stop."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from kiosk.app.sim.label_video import Scene, write_label_video
from kiosk.domain import HouseholdId
from kiosk.labels import make_label


def start(config, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GPIOZERO_PIN_FACTORY", None)  # off a Pi the kiosk must pick mock pins itself
    return subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(config.path), "run",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def labels(config, *households):
    return [Scene(make_label(config.label_secret, HouseholdId.parse(h)), h) for h in households]


def test_run_replays_a_video_and_checks_in_what_it_sees(community, tmp_path):
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304", "24-2403"),
                              hold_s=0.5, gap_s=0.3)
    kiosk = start(community, "--camera", f"video:{video}")
    out, err = kiosk.communicate(timeout=60)
    assert kiosk.returncode == 0, err
    assert "using gpiozero's mock pins" in err
    assert "24-2304" not in err and "24-23**" in err  # logs mask households
    rows = sqlite3.connect(community.database).execute(
        "SELECT household_id, slot_code FROM parcels ORDER BY id").fetchall()
    assert rows == [("24-2304", "A-12"), ("24-2403", "B-12")]


def test_sigterm_stops_the_kiosk_cleanly(community, tmp_path):
    many = labels(community, *["24-2304"] * 6)  # long enough to still be running at SIGTERM
    video = write_label_video(tmp_path / "long.avi", many, hold_s=1.0, gap_s=0.5)
    kiosk = start(community, "--camera", f"video:{video}")
    for line in kiosk.stderr:
        if "checkin" in line:
            break
    kiosk.send_signal(signal.SIGTERM)
    _, err = kiosk.communicate(timeout=15)
    assert kiosk.returncode == 0, err
    assert "kiosk stopped after" in err
    count = sqlite3.connect(community.database).execute("SELECT COUNT(*) FROM parcels")
    assert 1 <= count.fetchone()[0] < 6


def test_run_refuses_a_camera_that_is_not_there(community, tmp_path):
    kiosk = start(community, "--camera", f"video:{tmp_path / 'absent.avi'}")
    _, err = kiosk.communicate(timeout=30)
    assert kiosk.returncode == 2
    assert "absent.avi" in err


def test_label_writes_png_and_pdf(community, tmp_path):
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                           "label", "--household", "24-2304", "--ref", "SF9",
                           "--png", str(tmp_path / "l.png"), "--pdf", str(tmp_path / "l.pdf")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DS1:24-2304:SF9:")
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "l.pdf").read_bytes()[:5] == b"%PDF-"
    bad = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                          "label", "--household", "2304"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        'shelf: error: "2304" is not a room: type building and room, e.g. 24-2304, 24栋2304室 '
        "or 24/2304")
