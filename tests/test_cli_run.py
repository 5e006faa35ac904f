"""`shelf run` as systemd starts it: a replayed camera, mock pins, SIGTERM for a clean stop."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import cv2
from conftest import PATIENCE_S

from hardware.camera import VideoFileSource
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


def label_images(folder: Path, scenes) -> Path:
    """The frames of a label video, as a folder of images: `shelf run --camera images:` reads
    them one after another, none dropped however busy the machine is (a video replayed in
    time drops the frames the kiosk has no time for, and with them a label shown briefly)."""
    video = VideoFileSource(write_label_video(folder.with_suffix(".avi"), scenes, hold_s=0.7,
                                              gap_s=0.4))
    folder.mkdir()
    count = 0
    while (frame := video.read()) is not None:
        count += 1
        cv2.imwrite(str(folder / f"{count:04d}.png"), frame)
    video.close()
    return folder


def test_run_checks_in_what_the_camera_sees(community, tmp_path):
    frames = label_images(tmp_path / "gate", labels(community, "24-2304", "24-2403"))
    kiosk = start(community, "--camera", f"images:{frames}")
    out, err = kiosk.communicate(timeout=PATIENCE_S)
    assert kiosk.returncode == 0, err
    assert "using gpiozero's mock pins" in err
    assert "24-2304" not in err and "24-23**" in err  # logs mask households
    rows = sqlite3.connect(community.database).execute(
        "SELECT household_id, slot_code FROM parcels ORDER BY id").fetchall()
    assert rows == [("24-2304", "A-12"), ("24-2403", "B-12")]
    assert f"the replay images:{frames} ended: the kiosk stops" in err  # and is not restarted


def test_a_looping_replay_plays_again_until_sigterm(community, tmp_path):
    """[kiosk] replay = "loop": a replay as the service's camera never ends by itself (the
    unit restarts no clean stop; before, every end was a restart 3 s later)."""
    text = community.path.read_text()
    community.path.write_text(text.replace('replay = "once"', 'replay = "loop"'))
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304"),
                              hold_s=0.5, gap_s=2.5)  # out of view longer than the debounce
    kiosk = start(community, "--camera", f"video:{video}")
    give_up = threading.Timer(PATIENCE_S, kiosk.kill)  # a second pass never seen: no hang
    give_up.start()
    try:
        seen = []
        for line in kiosk.stderr:
            seen.append(line)
            if "checkin 24-23** -> A-12 (again)" in line:  # its second pass
                break
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
    finally:
        give_up.cancel()
        kiosk.kill()
    assert any("(again)" in line for line in seen), "".join(seen) + err
    assert kiosk.returncode == 0, err
    assert "replay" not in err and "kiosk stopped after" in err


def test_sigterm_stops_the_kiosk_cleanly(community, tmp_path):
    many = labels(community, *["24-2304"] * 6)  # long enough to still be running at SIGTERM
    video = write_label_video(tmp_path / "long.avi", many, hold_s=1.0, gap_s=0.5)
    kiosk = start(community, "--camera", f"video:{video}")
    for line in kiosk.stderr:
        if "checkin" in line:
            break
    kiosk.send_signal(signal.SIGTERM)
    _, err = kiosk.communicate(timeout=PATIENCE_S)
    assert kiosk.returncode == 0, err
    assert "kiosk stopped after" in err
    count = sqlite3.connect(community.database).execute("SELECT COUNT(*) FROM parcels")
    assert 1 <= count.fetchone()[0] < 6


def test_run_refuses_a_camera_that_is_not_there(community, tmp_path):
    kiosk = start(community, "--camera", f"video:{tmp_path / 'absent.avi'}")
    _, err = kiosk.communicate(timeout=PATIENCE_S)
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
