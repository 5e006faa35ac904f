"""A gate never waits on the network: check-ins and pickups go on while its sync hangs on a
centre that accepted the connection and never answers."""

from __future__ import annotations

import socket
import threading

import pytest
from compound import compound
from conftest import check_in, pickup_code

from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork, connect
from kiosk.sync.gate import sync_once
from kiosk.sync.link import HttpLink


@pytest.fixture
def north(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north",), clock) as (_, _, g):
        yield g["north"]


def test_check_ins_go_on_while_the_sync_hangs_on_a_silent_centre(north, clock):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted = threading.Event()
    release = threading.Event()

    def hang() -> None:
        peer, _ = silent.accept()
        accepted.set()
        release.wait(60)
        peer.close()

    server = threading.Thread(target=hang, daemon=True)
    server.start()
    for n in range(3):
        check_in(north.conn, north.config, clock, "2-902", f"BEFORE{n}")
    sync_conn = connect(north.config.database)  # the sync's own connection, as shelf sync's
    link = HttpLink(f"http://127.0.0.1:{silent.getsockname()[1]}", "t" * 43, timeout_s=60)
    reports = []
    syncing = threading.Thread(target=lambda: reports.append(
        sync_once(sync_conn, north.config, link, clock)))
    syncing.start()
    try:
        assert accepted.wait(30), "the sync never reached the centre"
        # The sync is inside its exchange now, waiting on the network: the gate goes on.
        for n in range(5):
            check_in(north.conn, north.config, clock, "2-902", f"DURING{n}")
        picked = act_on_code(pickup_code(north.conn, "2-902"), SqliteUnitOfWork(north.conn),
                             Rules.from_config(north.config), clock)
        assert picked.action == "pickup" and len(picked.parcels) == 8
        assert syncing.is_alive()  # still waiting for its answer
    finally:
        release.set()
        syncing.join(90)
        sync_conn.close()
        silent.close()
    assert reports[0].centre == "unreachable"
    assert reports[0].pending > 0  # everything waits in the journal for the next try
