"""`shelf doctor`: each check on real parts (a real SQLite file, a real SMTP catcher, a local
TCP listener, gpiozero's mock pins, an image folder as the camera), and the command itself."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero import LED
from test_backup import garble, shelf

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
    check_timezone,
    check_tokens,
    configured_pins,
)
from kiosk.app.sim.label_video import Scene, label_frame
from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.backup import backup_name, hold_lock
from kiosk.config import ChannelConfig
from kiosk.domain import HouseholdId
from kiosk.labels import make_label

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


def test_pins_and_camera_held_by_the_running_kiosk_are_left_alone(community, factory):
    held = LED(13, pin_factory=factory)
    try:
        with hold_lock(community.database, "run"):
            pins = check_pins([13], community.database, pin_factory=factory)
            camera = check_camera("device:0", community.database)
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
