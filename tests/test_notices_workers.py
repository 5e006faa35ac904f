"""Real `shelf notices` workers (subprocesses) on one outbox, through a real local receiver:
one killed with SIGKILL between its send and its mark, two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from conftest import PATIENCE_S, check_in, wait_for
from test_channels import with_channels

from kiosk.app.sim.receiver import Receiver
from kiosk.config import Config

HOUSEHOLDS = ["24-2304", "2-902", "4-1104", "3-301", "3-310", "2-2603", "4-1504", "4-1904",
              "4-2002", "13-1102"]


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


def by_sms(community: Config, http: Receiver) -> Config:
    return with_channels(community, f"""
[[channels]]
type = "webhook"
id = "sms"
url = "{http.url}/sms"
timeout_seconds = 60

[[channels]]
type = "email"
host = "127.0.0.1"
port = 9
from = "shelf@sample-garden.example"
""")


def worker(config: Config, now) -> subprocess.Popen:
    """`shelf notices` on the community's file, its clock starting at ``now``."""
    return subprocess.Popen([sys.executable, "-m", "kiosk.app", "notices", "--config",
                             str(config.path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SHELF_NOW": now.isoformat()})


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=PATIENCE_S)
    return err


def sent(conn) -> int:
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone()[0]


def phones(http: Receiver) -> list[str]:
    return [r.json["mobile"] for r in http.requests]


def test_a_worker_killed_between_send_and_mark_sends_that_notice_at_most_twice(
        community, conn, clock, http):
    config = by_sms(community, http)
    for household in HOUSEHOLDS[:3]:
        check_in(conn, config, clock, household)
    http.answer("hang")  # the gateway takes the first notice and holds its answer
    first = worker(config, clock.now())
    try:
        http.wait_for(1, timeout=PATIENCE_S)
        assert len(http.requests) == 1
    finally:
        first.send_signal(signal.SIGKILL)  # between the send and the mark
        first.wait(PATIENCE_S)
    http.release()
    [held] = phones(http)
    claim = conn.execute("SELECT status, claimed_by, lease_until FROM outbox"
                         " WHERE recipient = ?", (held,)).fetchone()
    assert claim["status"] == "pending" and claim["claimed_by"]

    # A worker started at once sends the rest and leaves the dead worker's claim alone ...
    second = worker(config, clock.now())
    try:
        wait_for(lambda: sent(conn) == 2)
        time.sleep(0.5)
    finally:
        stop(second)
    assert sorted(phones(http)[1:]) == sorted(p for p in ("13800002304", "13953753544",
                                                         "13935676674") if p != held)
    # ... and one started after the lease ran out sends that notice again: once more.
    third = worker(config, clock.now() + timedelta(seconds=360))  # the 300 s lease is over
    try:
        wait_for(lambda: sent(conn) == 3)
    finally:
        stop(third)
    told = phones(http)
    assert {p: told.count(p) for p in told} == {p: 1 + (p == held) for p in told}
    assert len(told) == 4  # one duplicate, for the one notice caught by the kill


def test_two_workers_at_once_send_each_notice_exactly_once(community, conn, clock, http):
    config = by_sms(community, http)
    for household in HOUSEHOLDS:
        check_in(conn, config, clock, household)
    http.answer("hang")  # both workers get going before any answer comes
    one = worker(config, clock.now())
    two = worker(config, clock.now())
    try:
        http.wait_for(2, timeout=PATIENCE_S)  # each holds a notice of its own
        assert len(set(phones(http))) == 2
        http.delay = 0.05
        http.release()
        wait_for(lambda: sent(conn) == len(HOUSEHOLDS))
        time.sleep(0.5)  # a worker sending a notice twice would do so now
    finally:
        logs = [stop(one), stop(two)]
    told = phones(http)
    assert len(told) == len(set(told)) == len(HOUSEHOLDS)
    assert all(" sent via sms" in log for log in logs), logs  # both did some of the work
