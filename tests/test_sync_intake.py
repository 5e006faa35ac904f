"""The centre's intake of a batch, statement by statement: exactly once, by (gate, epoch, seq).

The batch is written in a few set-based statements (``kiosk.centre.intake``): these hold it
to what applying each record in turn would do, on a real gate's records and a real PostgreSQL.
"""

from __future__ import annotations

import copy

import pytest
from compound import COMMUNITY, compound
from conftest import check_in, pickup_code

from bench.proofs.sync_invariants import caught_up
from kiosk.centre.db import connect
from kiosk.centre.gates import GateRef
from kiosk.centre.intake import exchange
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal
from kiosk.sync.gate import _request

NORTH = GateRef(COMMUNITY, "north")


@pytest.fixture
def north(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north",), clock) as (_, _, g):
        yield g["north"]


def a_busy_quarter_hour(gate, clock) -> None:
    """Parcels checked in and collected, a door task opened and delivered: most rows are
    written by several records of the same batch."""
    from kiosk.observation import set_observation
    from kiosk.tasks import deliver

    assert gate.sync(clock).pending == 0  # joined: from here on, each change is a record
    uow, rules = SqliteUnitOfWork(gate.conn), Rules.from_config(gate.config)
    assert set_observation("24-2304", True, uow, rules, clock, actor="tests")
    task = check_in(gate.conn, gate.config, clock, "24-2304", "FOOD1").door_task
    for n in range(3):
        check_in(gate.conn, gate.config, clock, "2-902", f"N{n}")
        clock.advance(30)
    assert act_on_code(pickup_code(gate.conn, "2-902"), uow, rules, clock).action == "pickup"
    deliver(task.id, "24-2304", uow, rules, clock, actor="li@web")


def whole_batch(gate, clock) -> dict:
    journal = Journal(gate.conn)
    return _request(gate.conn, gate.config, journal, journal.pending(10_000), clock)


def held(pg) -> dict[str, int]:
    return {table: pg.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]  # noqa: S608
            for table in ("sync_records", "parcels", "door_tasks", "door_task_parcels",
                          "events", "sync_alarms")}


def test_a_batch_mirrors_each_row_as_its_last_record_says_and_counts_once(north, centre_url,
                                                                          clock):
    a_busy_quarter_hour(north, clock)
    request = whole_batch(north, clock)
    records = request["batch"]["records"]
    kinds = [r[2] for r in records]
    parcel_keys = [(r[3]["origin"], r[3]["id"]) for r in records if r[2] == "parcels"]
    assert len(parcel_keys) > len(set(parcel_keys))  # rows written twice in the one batch
    assert {"parcels", "door_tasks", "door_task_parcels", "events"} <= set(kinds)

    with connect(centre_url) as pg:
        answer = exchange(pg, NORTH, request, clock.now())
        assert answer["applied"] == {"epoch": request["epoch"], "through": records[-1][0],
                                     "new": len(records)}
        Journal(north.conn).acknowledge(records[-1][0])
        # Every record once, every mirror row equal to the gate's (types, times, booleans).
        assert caught_up(north.conn, pg, COMMUNITY, "north",
                         north.config.community.timezone) == []
        before = held(pg)
        again = exchange(pg, NORTH, request, clock.now())  # the answer lost: sent again
        assert again["applied"]["new"] == 0 and again["rewound"] is None
        assert held(pg) == before


def test_a_different_record_under_a_key_held_is_an_alarm_and_changes_nothing(north,
                                                                             centre_url,
                                                                             clock):
    a_busy_quarter_hour(north, clock)
    request = whole_batch(north, clock)
    with connect(centre_url) as pg:
        exchange(pg, NORTH, request, clock.now())
        before = held(pg)
        parcels = pg.execute("SELECT * FROM parcels ORDER BY id").fetchall()
        forged = copy.deepcopy(request)
        records = forged["batch"]["records"]
        changed = next(r for r in records if r[2] == "parcels")
        changed[3]["ref"] = "SOMETHING-ELSE"
        records.append([records[-1][0] + 1, records[-1][1], "events", records[-1][3]])
        answer = exchange(pg, NORTH, forged, clock.now())
        alarms = pg.execute("SELECT kind, seq, detail FROM sync_alarms").fetchall()
        after = held(pg)
        assert pg.execute("SELECT * FROM parcels ORDER BY id").fetchall() == parcels
    assert answer["rewound"] == {"epoch": request["epoch"], "from": changed[0]}
    assert answer["applied"]["new"] == 0  # nothing of the batch, not even its new record
    assert [(a["kind"], a["seq"]) for a in alarms] == [("conflict", changed[0])]
    assert alarms[0]["detail"]["sent"]["data"]["ref"] == "SOMETHING-ELSE"
    assert after == {**before, "sync_alarms": 1}


def test_a_batch_after_a_gap_is_not_applied(north, centre_url, clock):
    a_busy_quarter_hour(north, clock)
    request = whole_batch(north, clock)
    records = request["batch"]["records"]
    late = copy.deepcopy(request)
    late["batch"]["records"] = records[2:]
    with connect(centre_url) as pg:
        before = held(pg)
        answer = exchange(pg, NORTH, late, clock.now())
        assert answer["applied"] == {"epoch": request["epoch"], "through": records[0][0] - 1,
                                     "new": 0}
        assert held(pg) == before
        assert exchange(pg, NORTH, request, clock.now())["applied"]["new"] == len(records)


def test_an_exchange_held_back_behind_a_newer_one_is_no_store_copied_back(north, centre_url,
                                                                          clock):
    """An exchange that reaches the database after a newer exchange of its gate was applied
    (held back while PostgreSQL restarted; its sync killed and started again meanwhile) holds
    an older ``holds``: no "rewound" alarm, and its older health is not noted. The same
    ``holds`` from an exchange that arrives after the newer one is a store copied back."""
    a_busy_quarter_hour(north, clock)
    held_back = whole_batch(north, clock)  # sent, then held back on its way
    sent_at = clock.now()
    clock.advance(5)
    check_in(north.conn, north.config, clock, "2-902", "AFTER")
    newer = whole_batch(north, clock)
    assert newer["holds"] > held_back["holds"]
    with connect(centre_url) as pg:
        assert exchange(pg, NORTH, newer, clock.now())["rewound"] is None
        health = pg.execute("SELECT last_sync_at, status FROM gates").fetchone()
        late = exchange(pg, NORTH, held_back, sent_at)  # reaches the database only now
        assert late["rewound"] is None and late["applied"]["new"] == 0
        assert pg.execute("SELECT count(*) AS n FROM sync_alarms").fetchone()["n"] == 0
        assert pg.execute("SELECT last_sync_at, status FROM gates").fetchone() == health

        clock.advance(5)  # the same store's older state arriving after: copied back
        copied = exchange(pg, NORTH, {**held_back, "batch": None}, clock.now())
        alarms = pg.execute("SELECT kind, seq FROM sync_alarms").fetchall()
    assert copied["rewound"] == {"epoch": held_back["epoch"], "from": held_back["holds"] + 1}
    assert [a["kind"] for a in alarms] == ["rewound"]
