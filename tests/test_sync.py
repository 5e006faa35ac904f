"""A compound's gates and their centre: a real PostgreSQL, real SQLite files, real HTTP."""

from __future__ import annotations

import pytest
from compound import COMMUNITY, compound
from conftest import check_in, pickup_code

from kiosk.centre.db import connect
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork


@pytest.fixture
def two_gates(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north", "south"),
                  clock) as (centre, url, gates):
        yield centre, url, gates


def centre_rows(url: str, sql: str, *args) -> list[dict]:
    with connect(url) as pg:
        return pg.execute(sql, args).fetchall()


def test_each_gates_parcels_reach_the_centre_once(two_gates, centre_url, clock):
    centre, url, gates = two_gates
    north, south = gates["north"], gates["south"]
    for n in range(3):
        check_in(north.conn, north.config, clock, "24-2304", f"N{n}")
    check_in(south.conn, south.config, clock, "2-902", "S0")
    code = pickup_code(north.conn, "24-2304")
    picked = act_on_code(code, SqliteUnitOfWork(north.conn), Rules.from_config(north.config),
                         clock)
    assert picked.action == "pickup"

    first = north.sync(clock)
    assert (first.centre, first.pending, first.error) == ("reachable", 0, None)
    assert first.pushed == north.journal().state().acked > 0
    assert south.sync(clock).pending == 0

    parcels = centre_rows(centre_url, "SELECT gate_id, ref, status FROM parcels"
                          " WHERE community_id = %s ORDER BY gate_id, ref", COMMUNITY)
    assert [(p["gate_id"], p["ref"], p["status"]) for p in parcels] == [
        ("north", "N0", "collected"), ("north", "N1", "collected"),
        ("north", "N2", "collected"), ("south", "S0", "waiting")]
    counted = centre_rows(centre_url, "SELECT gate_id, count(*) AS n FROM events"
                          " WHERE kind = 'checked_in' GROUP BY gate_id ORDER BY gate_id")
    assert [(c["gate_id"], c["n"]) for c in counted] == [("north", 3), ("south", 1)]

    again = north.sync(clock)  # nothing new: nothing pushed, nothing changes
    assert (again.pushed, again.pending) == (0, 0)
    assert centre_rows(centre_url, "SELECT count(*) AS n FROM sync_records")[0]["n"] == \
        north.journal().state().acked + south.journal().state().acked
