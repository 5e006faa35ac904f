"""A gate whose store goes back in time: restored from a backup, or its SD card copied back.

Its sequence numbers start again from an older number; the epoch in every key keeps the new
records from colliding with those the centre holds from the days the store lost, so none is
dropped as a duplicate, and the centre flags what happened.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import pytest
from compound import COMMUNITY, compound
from conftest import check_in

from kiosk.centre.db import connect
from kiosk.community import open_store
from kiosk.store import close_store


@pytest.fixture
def north(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north",), clock) as (_, url, g):
        yield g["north"]


def shelf(config, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "kiosk.app", *args, "--config",
                           str(config.path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def centre_refs(url: str) -> list[str]:
    with connect(url) as pg:
        return [r["detail"]["ref"] for r in pg.execute(
            "SELECT detail FROM events WHERE kind = 'checked_in' ORDER BY at, seq")]


def test_a_gate_restored_from_a_backup_before_its_last_sync_loses_nothing_new(
        north, centre_url, clock):
    for n in range(5):
        check_in(north.conn, north.config, clock, "2-902", f"A{n}")
    north.sync(clock)
    backup = shelf(north.config, "backup").stdout.strip().splitlines()[-1]
    for n in range(3):
        check_in(north.conn, north.config, clock, "2-902", f"B{n}")  # only the centre keeps
    assert north.sync(clock).pending == 0
    epoch = north.journal().state().epoch
    close_store(north.conn)

    shelf(north.config, "restore", backup)
    north.conn = open_store(north.config)
    restored = north.journal().state()
    assert restored.epoch != epoch and restored.parent == epoch
    for n in range(4):
        check_in(north.conn, north.config, clock, "2-902", f"C{n}")  # reuse B's numbers
    report = north.sync(clock)
    assert (report.centre, report.pending) == ("reachable", 0)

    assert sorted(centre_refs(centre_url)) == sorted(
        [f"A{n}" for n in range(5)] + [f"B{n}" for n in range(3)] + [f"C{n}" for n in range(4)])
    with connect(centre_url) as pg:
        alarms = pg.execute("SELECT kind, detail FROM sync_alarms WHERE community_id = %s",
                            (COMMUNITY,)).fetchall()
        parcels = pg.execute("SELECT origin, ref FROM parcels ORDER BY ref").fetchall()
    assert [a["kind"] for a in alarms] == ["restored"]
    assert alarms[0]["detail"]["parent"] == epoch and alarms[0]["detail"]["lost"] > 0
    # B's parcels keep their place at the centre; C's have keys of their own.
    assert {p["origin"] for p in parcels if p["ref"].startswith("C")} == {restored.epoch}
    assert {p["origin"] for p in parcels if p["ref"].startswith("B")} == {epoch}
    assert len(parcels) == 12


def test_an_sd_card_copied_back_is_found_out_and_its_new_records_kept(
        north, centre_url, clock, tmp_path):
    for n in range(3):
        check_in(north.conn, north.config, clock, "2-902", f"A{n}")
    north.sync(clock)
    close_store(north.conn)
    card = tmp_path / "card.db"
    shutil.copyfile(north.config.database, card)  # the whole card, copied aside
    north.conn = open_store(north.config)
    for n in range(3):
        check_in(north.conn, north.config, clock, "2-902", f"B{n}")
    north.sync(clock)
    close_store(north.conn)

    shutil.copyfile(card, north.config.database)  # ... and copied back: no `shelf restore`
    north.conn = open_store(north.config)
    epoch = north.journal().state().epoch
    for n in range(2):
        check_in(north.conn, north.config, clock, "2-902", f"C{n}")
    report = north.sync(clock)
    assert report.rewound and report.rewound[0]["epoch"] == epoch
    assert (report.centre, report.pending) == ("reachable", 0)
    assert north.journal().state().epoch != epoch
    assert sorted(centre_refs(centre_url)) == ["A0", "A1", "A2", "B0", "B1", "B2", "C0", "C1"]
    with connect(centre_url) as pg:
        kinds = [a["kind"] for a in pg.execute("SELECT kind FROM sync_alarms ORDER BY id")]
    assert "conflict" in kinds or "rewound" in kinds
    assert "restored" in kinds


def test_restore_stop_stops_the_gates_sync_and_says_to_start_it_again(
        tmp_path, community_template):
    from bench.compound import NOWHERE, gate_config, wait_until_syncing
    from kiosk.app.ops_cli import services
    from kiosk.config import load_config

    gate = gate_config(tmp_path / "north", community_template, "north", NOWHERE,
                       secrets.token_urlsafe(32))
    backup = shelf(gate, "backup").stdout.strip().splitlines()[-1]
    sync = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(gate.path),
                             "sync"], stderr=subprocess.DEVNULL)
    try:
        wait_until_syncing(sync, gate, tmp_path / "no log")  # backing off: the centre is away
        refused = subprocess.run([sys.executable, "-m", "kiosk.app", "restore", backup,
                                  "--config", str(gate.path)], capture_output=True, text=True,
                                 timeout=120)
        assert refused.returncode == 2 and "(shelf sync)" in refused.stderr
        done = subprocess.run([sys.executable, "-m", "kiosk.app", "restore", backup, "--stop",
                               "--config", str(gate.path)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "SHELF_LANG": "en",
                                                "SHELF_STOP_COMMAND": f"kill -TERM {sync.pid}"})
        assert done.returncode == 0, done.stderr
        assert sync.wait(timeout=30) == 0  # a clean stop: SIGTERM ends its wait at once
        assert ("start the services again: sudo systemctl start shelf-kiosk shelf-notices "
                "shelf-web shelf-sync") in done.stdout
    finally:
        sync.kill()
        sync.wait()
    # Without SHELF_STOP_COMMAND, what systemctl is asked to stop: the sync only on a gate.
    assert services(gate) == ("shelf-kiosk", "shelf-notices", "shelf-web", "shelf-sync")
    assert services(load_config(community_template / "config.toml")) == (
        "shelf-kiosk", "shelf-notices", "shelf-web")
