"""`shelf doctor`: each check on real parts (a real SQLite file, a real SMTP catcher, a local
TCP listener, gpiozero's mock pins, an image folder as the camera), and the command itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import make_app
from gpiozero import LED
from test_backup import garble, shelf
from test_camera_at_start import ABSENT, heard_starting, start
from test_sdnotify import Listener

from kiosk.app.doctor import (
    FAIL,
    OK,
    WARN,
    check_backups,
    check_camera,
    check_channels,
    check_clock,
    check_database,
    check_disk,
    check_pins,
    check_services,
    check_timezone,
    check_tokens,
    configured_inputs,
    configured_pins,
)
from kiosk.app.sim.label_video import Scene, label_frame
from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.backup import backup_name, hold_lock
from kiosk.clock import SystemClock
from kiosk.config import ChannelConfig
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.store import SqliteUnitOfWork, record_heartbeat

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_a_sound_database_is_ok_with_its_size_and_a_damaged_one_fails(community):
    sound = check_database(community.database)
    assert sound.status == OK and "MB" in sound.detail
    garble(community.database)
    damaged = check_database(community.database)
    assert damaged.status == FAIL and "shelf restore" in damaged.detail


def test_a_channel_is_reached_without_sending_anything():
    with MailCatcher() as mail:
        smtp = ChannelConfig("email", "email", {"host": "127.0.0.1", "port": mail.port})
        listener = socket.create_server(("127.0.0.1", 0))
        hook = ChannelConfig("wecom", "webhook",
                             {"url": f"http://127.0.0.1:{listener.getsockname()[1]}/send?key=x"})
        closed = socket.create_server(("127.0.0.1", 0))
        gone = closed.getsockname()[1]
        closed.close()  # nobody listens there now
        dead = ChannelConfig("sms", "email", {"host": "127.0.0.1", "port": gone})
        try:
            checks = check_channels([smtp, hook, dead])
        finally:
            listener.close()
        assert [(c.name, c.status) for c in checks] == [
            ("channel email", OK), ("channel wecom", OK), ("channel sms", FAIL)]
        assert f"127.0.0.1:{gone} does not answer" in checks[2].detail
        assert mail.messages == []  # connected to, never sent through


def test_no_channels_is_a_warning():
    assert check_channels([])[0].status == WARN


def test_pins_are_claimed_and_released_or_named_when_in_use(community, factory):
    pins = configured_pins(community.layout.shelves, community.kiosk.buzzer_pin)
    assert sorted(pins) == [5, 6, 12, 13, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
    free = check_pins(pins, community.database, pin_factory=factory)
    assert free.status == OK
    held = LED(13, pin_factory=factory)  # another program's (here: device's) claim
    try:
        busy = check_pins(pins, community.database, pin_factory=factory)
    finally:
        held.close()
    assert busy.status == FAIL and "BCM 13" in busy.detail and "BCM 12" not in busy.detail
    assert check_pins(pins, community.database, pin_factory=factory).status == OK  # released


def test_button_pins_are_checked_as_inputs(community, factory):
    from buttons import add_buttons

    config = add_buttons(community.path)
    pins = configured_pins(config.layout.shelves, config.kiosk.buzzer_pin)
    inputs = configured_inputs(config.layout.shelves)
    assert {11, 14} <= set(pins)  # the 74HC165's clock and load are driven
    assert sorted(inputs) == [4, 7, 10]  # A-11's and A-12's buttons, the chain's data pin
    held = LED(7, pin_factory=factory)
    try:
        busy = check_pins(pins, config.database, pin_factory=factory, inputs=inputs)
    finally:
        held.close()
    assert busy.status == FAIL and "BCM 7" in busy.detail
    free = check_pins(pins, config.database, pin_factory=factory, inputs=inputs)
    assert free.status == OK and "4, 5, 6" in free.detail
    assert all(factory.pin(pin).state for pin in inputs)  # pulled up, never driven low


def test_pins_and_camera_held_by_the_running_kiosk_are_left_alone(community, conn, factory):
    held = LED(13, pin_factory=factory)
    try:
        with hold_lock(community.database, "run"):
            record_heartbeat(conn, NOW, NOW)  # the kiosk beats, its camera delivers
            pins = check_pins([13], community.database, pin_factory=factory)
            camera = check_camera("device:0", community.database, now=NOW)
    finally:
        held.close()
    assert pins.status == OK and "running kiosk" in pins.detail
    assert camera.status == OK and "running kiosk" in camera.detail


def test_the_camera_delivers_frames_or_fails(community, tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    label = make_label(community.label_secret, HouseholdId.parse("24-2304"))
    frame = label_frame(Scene(label.decode() if isinstance(label, bytes) else label),
                        np.random.default_rng(1))
    cv2.imwrite(str(folder / "0001.png"), frame)
    good = check_camera(f"images:{folder}", community.database)
    assert good.status == OK and "640x480" in good.detail
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_camera(f"images:{empty}", community.database).status == FAIL
    assert check_camera(f"video:{tmp_path / 'absent.avi'}", community.database).status == FAIL


def test_the_clock_is_synchronised_or_says_how_to_check(tmp_path):
    flag = tmp_path / "synchronized"
    assert check_clock(flag, ask=lambda cmd: "no\n").status == FAIL
    assert check_clock(flag, ask=lambda cmd: "yes\n").status == OK

    def missing(cmd):
        raise FileNotFoundError(2, "No such file or directory", cmd[0])

    assert check_clock(flag, ask=missing).status == WARN
    flag.touch()
    assert check_clock(flag, ask=missing).status == OK


@pytest.mark.parametrize(("system", "status"), [("Asia/Shanghai", OK), ("Asia/Chongqing", OK),
                                                ("Europe/Berlin", WARN)])
def test_the_time_zone_is_the_configured_one(tmp_path, system, status):
    zone = tmp_path / "zoneinfo" / system
    zone.parent.mkdir(parents=True)
    zone.touch()
    localtime = tmp_path / "localtime"
    localtime.symlink_to(zone)
    check = check_timezone(ZoneInfo("Asia/Shanghai"), NOW, localtime)
    assert check.status == status
    if status == WARN:
        assert "timedatectl set-timezone Asia/Shanghai" in check.detail


def test_backups_must_be_recent(tmp_path):
    assert check_backups(tmp_path, NOW).status == WARN  # none yet
    (tmp_path / backup_name(NOW - timedelta(days=3))).touch()
    assert check_backups(tmp_path, NOW).status == FAIL
    (tmp_path / backup_name(NOW - timedelta(hours=20))).touch()
    recent = check_backups(tmp_path, NOW)
    assert recent.status == OK and "20.0 h old" in recent.detail


def test_an_unnamed_unscoped_token_is_a_warning(community):
    assert check_tokens(community.web.tokens).status == OK  # `shelf init` writes a named one
    legacy = replace(community.web.tokens[0], name="api-1", legacy=True)
    warned = check_tokens((legacy, *community.web.tokens))
    assert (warned.status, warned.values["names"]) == (WARN, "api-1")
    assert "[[web.tokens]]" in warned.detail
    assert check_tokens(()).status == OK


def test_a_nearly_full_disk_fails(tiny_disk, tmp_path):
    assert check_disk(tiny_disk.path).status == FAIL
    assert check_disk(Path("/")).status in (OK, WARN, FAIL)  # whatever this machine has


def test_the_command_prints_one_line_per_check_and_fails_on_a_failure(community, tmp_path):
    """The sample's SMTP relay (localhost:8025) is not running here: a failure, exit 1."""
    assert shelf(community, "backup").returncode == 0
    done = shelf(community, "doctor")
    assert done.returncode == 1, done.stderr
    names = [line.split()[1] for line in done.stdout.splitlines()]
    assert names == ["camera", "pins", "database", "disk", "clock", "timezone", "channel",
                     "tokens", "backups"]
    lines = {line.split()[1]: line for line in done.stdout.splitlines()}
    assert lines["database"].startswith("ok") and lines["backups"].startswith("ok")
    assert lines["channel"].startswith("FAIL") and "localhost:8025" in lines["channel"]
    as_json = json.loads(shelf(community, "doctor", "--json").stdout)
    assert as_json["ok"] is False
    assert [c["name"] for c in as_json["checks"]][-1] == "backups"


def test_doctor_says_what_the_running_kiosk_says_of_its_camera(community, client):
    """The real `shelf run` waiting for a camera that is not there holds the camera: doctor
    does not open it, and reports it lost, with why, as GET /healthz does (not "ok")."""
    listener = Listener(f"@shelf-test-{uuid.uuid4().hex}")
    kiosk = start(community, listener, ABSENT)
    try:
        heard_starting(listener, "READY=1", kiosk)
        env = {k: v for k, v in os.environ.items() if k != "SHELF_NOW"}
        done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config",
                               str(community.path), "doctor", "--json"], capture_output=True,
                              text=True, timeout=60, env={**env, "SHELF_LANG": "en"})
        health = make_app(community, SystemClock()).test_client().get("/healthz").get_json()
    finally:
        kiosk.terminate()
        kiosk.communicate(timeout=20)
        listener.close()
    camera = json.loads(done.stdout)["checks"][0]
    assert camera["name"] == "camera"
    assert camera["status"] == FAIL, camera
    assert "the running kiosk waits for it: not found at start" in camera["detail"]
    assert "/dev/video97" in camera["detail"] and "camera_lost" in camera["detail"]
    assert health["status"] == "camera_lost"


def test_the_kiosk_s_camera_as_its_heartbeat_and_events_tell(community, conn):
    with hold_lock(community.database, "run"):
        starting = check_camera("device:0", community.database, now=NOW)
        record_heartbeat(conn, NOW - timedelta(seconds=95), None)
        stale = check_camera("device:0", community.database, now=NOW)
        with SqliteUnitOfWork(conn) as uow:
            uow.events.add("camera_lost", "kiosk", NOW - timedelta(minutes=3),
                           reason="no frame for 5 s")
        record_heartbeat(conn, NOW, NOW - timedelta(minutes=3))
        lost = check_camera("device:0", community.database, now=NOW)
        with SqliteUnitOfWork(conn) as uow:
            uow.events.add("camera_back", "kiosk", NOW)
        back = check_camera("device:0", community.database, now=NOW)
    assert (starting.status, starting.key) == (WARN, "doctor_camera_kiosk_starting")
    assert stale.status == FAIL and "has not reported for 95 s" in stale.detail
    assert lost.status == FAIL
    assert lost.detail.startswith("lost for 3.0 min, the running kiosk waits for it: "
                                  "no frame for 5 s")
    assert back.status == OK and "running kiosk" in back.detail


@pytest.mark.parametrize("spec", ["images:/home/pi/labels", "video:/tmp/gate.avi"])
def test_a_replay_the_kiosk_s_service_cannot_see_fails_and_says_where_to_put_it(
        community, spec, tmp_path):
    unit = tmp_path / "shelf-kiosk.service"
    unit.touch()  # installed: the kiosk runs as that service
    check = check_camera(spec, community.database, unit=unit)
    assert check.status == FAIL
    assert "put replays in /var/lib/shelf or /srv" in check.detail


# What systemd 252 says (`systemctl show shelf-kiosk.service shelf-web.service
# shelf-notices.service --property ...`): the kiosk stopped on a configuration error, the
# site up, the worker between two restarts.
SHOWN = """LoadState=loaded
ActiveState=failed
SubState=failed
Result=exit-code
ExecMainStatus=2
StatusText=stopped: camera images:/srv/shelf/labels: no such folder
NRestarts=0

LoadState=loaded
ActiveState=active
SubState=running
Result=success
ExecMainStatus=0
StatusText=
NRestarts=0

LoadState=loaded
ActiveState=activating
SubState=auto-restart
Result=exit-code
ExecMainStatus=1
StatusText=
NRestarts=7
"""


def test_each_service_as_systemd_sees_it(tmp_path):
    booted = tmp_path / "system"
    asked = []

    def ask(command):
        asked.append(command)
        return SHOWN

    assert check_services(booted, ask) == []  # no systemd here: no line
    booted.mkdir()
    kiosk, web, notices = check_services(booted, ask)
    assert asked[0][:2] == ["systemctl", "show"]
    assert (kiosk.name, kiosk.status) == ("service shelf-kiosk", FAIL)
    assert kiosk.detail == ("stopped on a configuration error, not restarted: camera "
                            "images:/srv/shelf/labels: no such folder; fix it, then: sudo "
                            "systemctl restart shelf-kiosk")
    assert (web.status, web.detail) == (OK, "running")
    assert notices.status == FAIL and "restarting after failures (7 so far)" in notices.detail


def test_services_not_installed_are_left_out(tmp_path):
    shown = "LoadState=not-found\nActiveState=inactive\n\n" * 2 + (
        "LoadState=loaded\nActiveState=active\nSubState=running\n"
        "StatusText=waiting for the camera: not found at start\n")
    checks = check_services(tmp_path, lambda command: shown)
    assert [(c.name, c.status, c.detail) for c in checks] == [
        ("service shelf-notices", OK, "running: waiting for the camera: not found at start")]


def aimed_at(community, tmp_path, module_px: int | None) -> None:
    """The community's camera: a folder holding one frame of a label whose modules span
    ``module_px`` pixels on the desk (None: the desk alone)."""
    import cv2
    import numpy as np

    from kiosk.app.sim.label_video import qr_matrix

    folder = tmp_path / f"aim-{module_px}"
    folder.mkdir()
    frame = np.full((480, 640, 3), (90, 105, 120), dtype=np.uint8)
    if module_px is not None:
        label = make_label(community.label_secret, HouseholdId.parse("24-2304"))
        code = qr_matrix(label, module_px)
        frame[40:40 + code.shape[0], 60:60 + code.shape[1]] = code[:, :, None]
    cv2.imwrite(str(folder / "0001.png"), frame)
    text = community.path.read_text()
    community.path.write_text(text.replace('camera = "device:0"', f'camera = "images:{folder}"'))


@pytest.mark.parametrize(("module_px", "verdict", "code"), [(5, "good", 0), (3, "far", 1),
                                                            (2, "too_far", 1)])
def test_aiming_says_how_many_pixels_a_module_spans_and_whether_that_reads(
        community, tmp_path, module_px, verdict, code):
    aimed_at(community, tmp_path, module_px)
    done = shelf(community, "doctor", "--aim", "1", "--json")
    assert done.returncode == code, done.stderr
    said = json.loads(done.stdout)
    assert said["ok"] is (code == 0) and said["aim"], said
    [seen] = said["aim"][-1]["codes"]
    assert (seen["kind"], seen["read"], seen["verdict"]) == ("qr", True, verdict)
    assert seen["module_px"] == pytest.approx(module_px, abs=0.2)
    assert "24-2304" not in done.stdout  # what a label says stays on it
    told = shelf(community, "doctor", "--aim", "1", env={"SHELF_LANG": "zh"})
    assert f"每个模块 {module_px}." in told.stdout.splitlines()[0], told.stdout


def test_aiming_at_nothing_says_to_hold_a_label_up(community, tmp_path):
    aimed_at(community, tmp_path, None)
    done = shelf(community, "doctor", "--aim", "1", env={"SHELF_LANG": "en"})
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("no code in view")
    assert "hold a shelf label where couriers hold parcels" in done.stdout
