"""A live camera that is not there when the kiosk starts: it waits for it instead of exiting.

The kiosk is the real `shelf run` (a subprocess on a `device:N` with no /dev/videoN, or in
process with the camera appearing behind ``hardware.camera.open_source``); systemd's side is a
real AF_UNIX datagram socket (``test_sdnotify.Listener``), the gate screen the real site.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import PATIENCE_S
from test_camera_recovery import (
    camera_events,
    label_then_sigterm,
    run_kiosk_in_process,
)
from test_sdnotify import Listener

from kiosk.store import connect

ABSENT = "device:97"  # no /dev/video97 on a test machine


@pytest.fixture
def listener():
    heard = Listener(f"@shelf-test-{uuid.uuid4().hex}")
    yield heard
    heard.close()


def start(community, listener, camera):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": listener.address}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    env.pop("WATCHDOG_USEC", None)
    return subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                             "run", "--camera", camera], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[1])


def heard_starting(listener, prefix, kiosk, timeout=PATIENCE_S):
    """The first line heard that starts with ``prefix`` (while the kiosk runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and kiosk.poll() is None:
        found = [line for line in listener.lines() if line.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing starting with {prefix!r} came (exit {kiosk.poll()}); "
                         f"heard {listener.lines()}")


def test_a_camera_missing_at_start_is_waited_for_and_sigterm_stops_cleanly(
        community, listener, client):
    kiosk = start(community, listener, ABSENT)
    try:
        status = heard_starting(listener, "STATUS=waiting for the camera: ", kiosk)
        extend = heard_starting(listener, "EXTEND_TIMEOUT_USEC=", kiosk)
        time.sleep(3.5)  # the tries after 1 and 2 s fail too: still waiting, still running
        assert kiosk.poll() is None, kiosk.communicate(timeout=5)[1]
        state = client.get("/gate/state?after=0").get_json()
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
    finally:
        kiosk.kill()
    assert kiosk.returncode == 0, err
    assert "Traceback" not in err
    assert "not found at start" in status and "/dev/video97" in status
    assert int(extend.partition("=")[2]) > 1_000_000  # longer than the first back-off (1 s)
    assert "READY=1" not in listener.lines()
    assert state["camera_lost"] is True  # the gate screen shows its banner
    lost = camera_events(connect(community.database))
    assert [kind for kind, _, _ in lost] == ["camera_lost"]
    assert "not found at start" in lost[0][2]
    assert "kiosk stopped: LEDs off, camera released, database closed" in err


@pytest.mark.parametrize("camera", ["device:zero", "webcam:0"])
def test_a_camera_setting_that_does_not_parse_still_exits_2(community, listener, camera):
    kiosk = start(community, listener, camera)
    _, err = kiosk.communicate(timeout=PATIENCE_S)
    assert kiosk.returncode == 2, err
    assert "allowed forms are" in err


def test_a_camera_that_appears_after_two_tries_is_used_and_ready_follows(
        community, listener, monkeypatch, caplog):
    """device:0 is not there at start and at the first retry (the real DeviceCamera says so),
    then it is: the label held up checks in, READY=1 comes after the waiting, SIGTERM stops."""
    import hardware.camera

    _, camera = label_then_sigterm(community)
    real_open, tries = hardware.camera.open_source, []

    def open_source(spec, speed=1.0):
        tries.append(spec)
        return real_open(ABSENT) if len(tries) <= 2 else camera

    monkeypatch.setattr(hardware.camera, "open_source", open_source)
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    with caplog.at_level(logging.INFO):
        code = run_kiosk_in_process(community, "device:0")
    assert code == 0
    assert tries == ["device:0"] * 3  # at start, after 1 s, after 2 s
    listener.wait_for("STOPPING=1")
    heard = listener.lines()
    waiting = [i for i, line in enumerate(heard) if line.startswith("STATUS=waiting")]
    assert waiting and heard.index("READY=1") > max(waiting)
    conn = connect(community.database)
    assert [tuple(r) for r in conn.execute("SELECT household_id FROM parcels")] == [("24-2403",)]
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"]
    assert "camera back" in caplog.messages
