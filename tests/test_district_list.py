"""The district's observation list (`shelf district observation apply`, a real process on a
real PostgreSQL): one file with a compound column, each compound given only its rows through
its own register and commands; a room unknown in its compound is a problem named by the
district file's line; `--dry-run` shows each compound's difference first; a gate offline when
the list is applied opens the right door task when it returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import check_in
from district import COMPOUNDS, district

from kiosk.centre.db import connect
from kiosk.centre.gates import ensure_community
from kiosk.centre.lists import import_households_at_centre
from kiosk.services import Rules

NOW = {**os.environ, "SHELF_NOW": "2026-11-29T16:00:00+08:00"}  # the committee's hours
EAST, WEST, RIVER = COMPOUNDS
LIST = ("小区,楼栋,房号,状态\n"
        "东苑,30,1301,新增\n"          # line 2: east, by its name
        f"{WEST},30,1301,新增\n"       # line 3: west, by its id
        f"{WEST},2,902,新增\n"         # line 4
        f"{RIVER},99,9999,新增\n"      # line 5: no such room in the river compound
        "nowhere,3,301,新增\n")        # line 6: no such compound


@pytest.fixture
def offline_gate(tmp_path, community_template, centre_url, clock):
    """Three compounds with the sample's households at the centre; a parcel for 30-1301 on
    every gate's shelf; the west's south gate cut off."""
    with district(tmp_path, community_template, centre_url, clock) as d, \
            connect(centre_url) as pg:
        households = (community_template / "households.csv").read_bytes()
        for community in COMPOUNDS:
            config = d.configs[community]
            import_households_at_centre(pg, community, config.community.buildings,
                                        "households.csv", households, clock.now(),
                                        actor="chen", apply=True,
                                        rules=Rules.from_config(config))
        ensure_community(pg, EAST, clock.now(), name="东苑")
        for (community, gate), g in d.gates.items():
            g.sync(clock)
            check_in(g.conn, g.config, clock, "30-1301", f"{community}-{gate}".upper())
            g.sync(clock)
        d.gates[(WEST, "south")].cut_off()
        yield d


def shelf(config, path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.app", "district", "observation",
                           "apply", str(path), "--date", "2026-11-29", "--json", *args,
                           "--config", str(config.path)], capture_output=True, text=True,
                          timeout=120, env=NOW)


def open_tasks(gate) -> list[str]:
    return [r["household_id"] for r in gate.conn.execute(
        "SELECT household_id FROM door_tasks WHERE status = 'open' ORDER BY id")]


def test_a_district_list_reaches_each_compound_and_a_gate_that_was_offline(
        offline_gate, centre_url, tmp_path, clock):
    d = offline_gate
    path = tmp_path / "district.csv"
    path.write_bytes(LIST.encode("utf-8-sig"))
    config = d.configs[EAST]

    dry = shelf(config, path, "--dry-run")
    assert dry.returncode == 1, dry.stderr  # problems: shown, nothing applied
    shown = json.loads(dry.stdout)
    assert shown["problems"] == [{"line": 6, "kind": "unknown_compound", "text": "nowhere"}]
    parts = {p["community"]: p for p in shown["compounds"]}
    assert sorted(parts) == sorted(COMPOUNDS)
    assert [(e["household"], e["line"]) for e in parts[WEST]["added"]] == [
        ("30-1301", 3), ("2-902", 4)]
    assert [e["household"] for e in parts[EAST]["added"]] == ["30-1301"]
    assert [(u["household"], u["line"]) for u in parts[RIVER]["unknown"]] == [("99-9999", 5)]
    assert all(p["commands"] == [] and not p["applied"] for p in shown["compounds"])

    refused = shelf(config, path)  # problems, and no --apply-valid-rows: nothing applies
    assert refused.returncode == 1
    with connect(centre_url) as pg:
        assert pg.execute("SELECT count(*) AS n FROM observation_lists").fetchone()["n"] == 0

    applied = json.loads(shelf(config, path, "--apply-valid-rows").stdout)
    parts = {p["community"]: p for p in applied["compounds"]}
    assert parts[EAST]["applied"] and parts[WEST]["applied"]
    assert [c["gate"] for c in parts[WEST]["commands"]] == ["north", "south"]
    with connect(centre_url) as pg:
        under = {(r["community_id"], r["id"]) for r in pg.execute(
            "SELECT community_id, id FROM households WHERE under_observation"
            " AND id IN ('30-1301', '2-902')")}
    assert under == {(EAST, "30-1301"), (WEST, "30-1301"), (WEST, "2-902")}  # river: none

    for key, g in d.gates.items():
        if key != (WEST, "south"):
            g.sync(clock)
    assert open_tasks(d.gates[(EAST, "north")]) == ["30-1301"]
    assert open_tasks(d.gates[(RIVER, "north")]) == []  # its rows named no one it has
    west_south = d.gates[(WEST, "south")]
    assert open_tasks(west_south) == [] and west_south.sync(clock).centre != "reachable"
    west_south.reconnect(d.url)
    west_south.sync(clock)
    assert open_tasks(west_south) == ["30-1301"]  # back: its parcel goes to the door now
