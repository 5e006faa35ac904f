"""A gate with a history joins its centre a chunk of rows at a time; cut short, it goes on
where it stopped, and what the kiosk did meanwhile reaches the centre as well: in the end the
centre's copies equal the gate's rows, each record once."""

from __future__ import annotations

import sqlite3

import pytest
from compound import COMMUNITY, compound
from conftest import check_in, pickup_code

from bench.proofs.sync_invariants import caught_up
from kiosk.centre.db import connect
from kiosk.observation import set_observation
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import act_on_door


@pytest.fixture
def north(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north",), clock) as (_, _, g):
        yield g["north"]


def test_a_join_cut_short_goes_on_where_it_stopped_and_misses_nothing(north, centre_url,
                                                                      clock):
    uow, rules = SqliteUnitOfWork(north.conn), Rules.from_config(north.config)
    set_observation("24-2304", True, uow, rules, clock, actor="tests")
    task = check_in(north.conn, north.config, clock, "24-2304", "D0").door_task
    for n in range(12):  # the history the gate has when it joins
        check_in(north.conn, north.config, clock, ("2-902", "3-301")[n % 2], f"H{n}")
    act_on_code(pickup_code(north.conn, "2-902"), uow, rules, clock)
    events = north.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    # A power cut in the middle of the events' snapshot: the chunks before it stay.
    north.conn.execute(
        "CREATE TEMP TRIGGER cut AFTER INSERT ON sync_journal WHEN NEW.kind = 'events' AND"
        f" json_extract(NEW.data, '$.id') > {events // 2} BEGIN SELECT RAISE(ABORT, 'cut');"
        " END")
    with pytest.raises(sqlite3.IntegrityError, match="cut"):
        north.journal().join(chunk=4)
    north.conn.execute("DROP TRIGGER cut")
    written = north.conn.execute("SELECT count(*) FROM sync_journal").fetchone()[0]
    assert written > 0 and north.journal().state().journaling

    # Meanwhile the kiosk goes on: old rows change, new ones come (the triggers have them).
    act_on_code(pickup_code(north.conn, "3-301"), uow, rules, clock)
    assert act_on_door(task.id, "24-2304", uow, rules, clock, actor="li@web").action \
        == "delivered"
    check_in(north.conn, north.config, clock, "4-1104", "NEW")

    report = north.sync(clock)  # the join goes on where it stopped, then everything is sent
    assert (report.centre, report.pending) == ("reachable", 0)
    assert north.journal().join() == 0  # joined: nothing more to snapshot
    with connect(centre_url) as pg:
        assert caught_up(north.conn, pg, COMMUNITY, "north",
                         north.config.community.timezone) == []
        statuses = {r["ref"]: r["status"] for r in pg.execute("SELECT ref, status FROM parcels")}
    assert statuses["D0"] == "collected" and statuses["NEW"] == "waiting"
    assert all(statuses[f"H{n}"] == "collected" for n in range(12))
