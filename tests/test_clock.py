"""`SHELF_NOW`: every command can be run at a moment chosen from outside, to replay a day."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import segno
from conftest import real_time_since

from kiosk.clock import NOW_ENV, ShiftedClock, SystemClock, clock_from_env
from kiosk.domain import HouseholdId
from kiosk.errors import ConfigError
from kiosk.labels import make_label


def test_without_shelf_now_the_clock_is_the_real_one():
    assert isinstance(clock_from_env({}), SystemClock)
    assert isinstance(clock_from_env({NOW_ENV: "  "}), SystemClock)


def test_shelf_now_starts_the_clock_there_and_lets_it_run(caplog):
    started = time.monotonic()
    clock = clock_from_env({NOW_ENV: "2026-12-03T21:10:00+08:00"})
    assert isinstance(clock, ShiftedClock)
    first = clock.now()
    # at SHELF_NOW, moved on by no more than the real time since (however long that was)
    moved_on = first - datetime(2026, 12, 3, 13, 10, tzinfo=UTC)
    assert timedelta(0) <= moved_on <= real_time_since(started)
    assert clock.now() >= first and first.tzinfo is not None
    assert "SHELF_NOW is set" in caplog.text


@pytest.mark.parametrize("text", ["yesterday", "2026-12-03T21:10:00", "2026-13-03T21:10+08:00"])
def test_a_shelf_now_without_an_offset_or_not_a_time_is_refused(text):
    with pytest.raises(ConfigError, match="SHELF_NOW=.*ISO-8601 time with an offset"):
        clock_from_env({NOW_ENV: text})


def shelf(config, *args, now: str | None = None):
    env = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}
    if now is not None:
        env[NOW_ENV] = now
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *args], capture_output=True, text=True, env=env)


def test_a_command_records_what_it_does_at_shelf_now(community, tmp_path):
    label = tmp_path / "label.png"
    payload = make_label(community.label_secret, HouseholdId(24, "2304"), "SF7")
    segno.make(payload, error="m").save(str(label), kind="png", scale=6, border=4)
    started = time.monotonic()
    done = shelf(community, "scan", "--json", label, now="2026-12-03T21:10:00+08:00")
    assert done.returncode == 0, done.stderr
    assert "SHELF_NOW is set" in done.stderr
    db = sqlite3.connect(community.database)
    checked_in = datetime.fromisoformat(db.execute("SELECT checked_in_at FROM parcels")
                                        .fetchone()[0])
    # at SHELF_NOW, moved on by no more than the command took (however busy the machine)
    assert timedelta(0) <= checked_in - datetime(2026, 12, 3, 13, 10, tzinfo=UTC) \
        <= real_time_since(started), checked_in
    until = datetime.fromisoformat(db.execute("SELECT until FROM signals").fetchone()[0])
    assert until - checked_in == timedelta(seconds=community.kiosk.light_s)  # lit from then


def test_a_bad_shelf_now_stops_the_command_with_one_line(community):
    done = shelf(community, "label", "--household", "24-2304", now="tomorrow")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("shelf: error: SHELF_NOW='tomorrow'")
    assert "Traceback" not in done.stderr
