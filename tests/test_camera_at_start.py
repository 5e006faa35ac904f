"""A live camera that is not there when the kiosk starts: it waits for it instead of exiting,
and without holding up the boot (READY at once, the watchdog fed while it waits).

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
from conftest import PATIENCE_S, make_app
from test_camera_recovery import (
    camera_events,
    label_then_sigterm,
    run_kiosk_in_process,
)
from test_sdnotify import Listener

from kiosk.clock import SystemClock
from kiosk.store import connect

ABSENT = "device:97"  # no /dev/video97 on a test machine


@pytest.fixture
def listener():
    heard = Listener(f"@shelf-test-{uuid.uuid4().hex}")
    yield heard
    heard.close()


def start(community, listener, camera, *, watchdog_s=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": listener.address}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    if watchdog_s is not None:
        env["WATCHDOG_USEC"] = str(int(watchdog_s * 1_000_000))
    return subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                             "run", "--camera", camera], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[1])


def heard_starting(listener, prefix, kiosk, timeout=PATIENCE_S, count=1):
    """The ``count``-th line heard that starts with ``prefix`` (while the kiosk runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and kiosk.poll() is None:
        found = [line for line in listener.lines() if line.startswith(prefix)]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"{count} lines starting with {prefix!r} did not come (exit "
                         f"{kiosk.poll()}); heard {listener.lines()}")


def test_a_camera_missing_at_start_does_not_hold_the_boot_and_sigterm_stops_cleanly(
        community, listener, client):
    """READY at once, with a STATUS that says what it waits for (so `multi-user.target`
    completes and `systemctl start` returns); the watchdog is fed while it waits; the gate
    screen and /healthz say the camera is lost."""
    kiosk = start(community, listener, ABSENT, watchdog_s=1.0)
    try:
        heard_starting(listener, "READY=1", kiosk)
        heard_starting(listener, "WATCHDOG=1", kiosk, count=3)  # fed while it waits
        health = make_app(community, SystemClock()).test_client().get("/healthz")
        state = client.get("/gate/state?after=0").get_json()
        assert kiosk.poll() is None, kiosk.communicate(timeout=5)[1]
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
    finally:
        kiosk.kill()
    assert kiosk.returncode == 0, err
    assert "Traceback" not in err
    heard = listener.lines()
    ready = heard.index("READY=1")
    status = heard[ready + 1]  # in the same datagram
    assert status.startswith("STATUS=waiting for the camera: not found at start"), heard
    assert "/dev/video97" in status
    assert heard.count("READY=1") == 1
    assert min(listener.when("WATCHDOG=1")) >= listener.when("READY=1")[0]
    assert "kiosk ready without its camera, which it waits for: not found at start" in err
    assert (health.status_code, health.get_json()["status"]) == (503, "camera_lost")
    assert state["camera_lost"] is True  # the gate screen shows its banner
    lost = camera_events(connect(community.database))
    assert [kind for kind, _, _ in lost] == ["camera_lost"]
    assert "not found at start" in lost[0][2]
    assert "kiosk stopped: LEDs off, camera released, database closed" in err


@pytest.mark.parametrize("camera", ["device:zero", "webcam:0"])
def test_a_camera_setting_that_does_not_parse_still_exits_2_and_tells_systemd_why(
        community, listener, camera):
    """Exit 2, which the kiosk's unit does not restart (RestartPreventExitStatus=2): the line
    stays in `systemctl status` (and `shelf doctor`) as its last STATUS."""
    kiosk = start(community, listener, camera)
    _, err = kiosk.communicate(timeout=PATIENCE_S)
    assert kiosk.returncode == 2, err
    assert "allowed forms are" in err
    last = listener.wait_for(f"STATUS=stopped: camera = {camera!r}: allowed forms are "
                             "device:0, picamera2, picamera2:0, video:FILE, images:DIR")
    assert last == max(at for at, _ in listener.messages)


def test_a_camera_that_appears_after_two_tries_is_used_and_ready_follows(
        community, listener, monkeypatch, caplog):
    """device:0 is not there at start and at the first retry (the real DeviceCamera says so),
    then it is: READY=1 comes with the waiting, the label held up checks in, the STATUS says
    it scans, SIGTERM stops."""
    import hardware.camera

    _, camera = label_then_sigterm(community)
    real_open, tries = hardware.camera.open_source, []

    def open_source(spec, speed=1.0, *, loop=False):
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
    assert waiting and heard.index("READY=1") == waiting[0] - 1  # ready, and waiting
    assert heard.count("READY=1") == 1
    assert heard.index("STATUS=scanning") > max(waiting)  # then the camera came
    conn = connect(community.database)
    assert [tuple(r) for r in conn.execute("SELECT household_id FROM parcels")] == [("24-2403",)]
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"]
    assert "camera back" in caplog.messages
