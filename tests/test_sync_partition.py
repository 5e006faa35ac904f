"""A gate cut off for a day: everything it did reaches the centre once it is back, once.

500 check-ins, 100 pickups, 30 door deliveries and fresh food escalated (its door task left
waiting for hours) with its centre URL pointing nowhere; back
online, the compound's counts are the sum of what each gate's own `shelf counts` says, and
the same batches pushed again change nothing.
"""

from __future__ import annotations

import pytest
from compound import COMMUNITY, compound
from conftest import check_in, pickup_code

from kiosk.centre.db import connect
from kiosk.centre.queries import TOTALS, compound_counts
from kiosk.observation import set_observation
from kiosk.queries import daily_counts
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import deliver, hand_over_due, mark_fresh

ROOMS = ["2-902", "2-2603", "3-301", "3-310", "4-1104", "4-1504", "4-1904", "4-2002",
         "6-1804", "6-1903", "7-1702", "8-1601", "9-1403", "10-1604", "12-2001", "13-1102"]
DOORS = ["24-2304", "24-2403", "24-501"]  # under observation: their parcels go to the door
FRESH_DOOR = "29-1004"  # under observation too; its fresh food waits at the gate all day


@pytest.fixture
def gates(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north", "south"),
                  clock) as (_, url, g):
        yield url, g


def a_day_offline(gate, clock) -> None:
    """500 check-ins (31 of them for doors), 100 pickups, 30 door deliveries; one fresh parcel
    whose door task waits all day, escalated hour by hour by the notice worker's rounds."""
    rules, uow = Rules.from_config(gate.config), SqliteUnitOfWork(gate.conn)
    for room in (*DOORS, FRESH_DOOR):
        set_observation(room, True, uow, rules, clock, actor="tests")
    food = check_in(gate.conn, gate.config, clock, FRESH_DOOR, "FRESH").parcel
    mark_fresh(food, uow, rules, clock, actor="tests", source="web")
    pickups = deliveries = 0
    for n in range(500):
        clock.advance(60)
        if n % 30 == 0:  # the notice worker's round (every pass in real life)
            hand_over_due(uow, rules, clock)
        if n % 16 == 5 and deliveries < 30:
            room = DOORS[deliveries % len(DOORS)]
            task = check_in(gate.conn, gate.config, clock, room, f"D{n}").door_task
            deliver(task.id, room, uow, rules, clock, actor="li@web")
            deliveries += 1
            continue
        room = ROOMS[n % len(ROOMS)]
        check_in(gate.conn, gate.config, clock, room, f"P{n}")
        if n % 4 == 3 and pickups < 100:
            picked = act_on_code(pickup_code(gate.conn, room), uow, rules, clock)
            assert picked.action == "pickup"
            pickups += 1
    assert (pickups, deliveries) == (100, 30)


def kinds(rows) -> dict[str, int]:
    return {r["kind"]: r["n"] for r in rows}


def test_a_day_offline_arrives_once_and_the_counts_add_up(gates, centre_url, clock):
    url, g = gates
    north, south = g["north"], g["south"]
    timezone = north.config.community.timezone
    began = clock.now().astimezone(timezone).date()  # the day runs past midnight there
    north.sync(clock)
    north.cut_off()
    a_day_offline(north, clock)
    for n in range(20):
        check_in(south.conn, south.config, clock, ROOMS[n % len(ROOMS)], f"S{n}")
    assert south.sync(clock).pending == 0
    assert north.sync(clock).centre == "unreachable"
    waiting, _ = north.journal().backlog()
    assert waiting > 1000

    north.reconnect(url)
    back = north.sync(clock)
    assert (back.centre, back.pending, back.pushed) == ("reachable", 0, waiting)

    gate_events = kinds(north.conn.execute("SELECT kind, count(*) AS n FROM events GROUP BY kind"))
    with connect(centre_url) as pg:
        centre_events = kinds(pg.execute("SELECT kind, count(*) AS n FROM events WHERE"
                                         " gate_id = 'north' GROUP BY kind").fetchall())
        day = clock.now().astimezone(north.config.community.timezone).date()
        compound = compound_counts(pg, COMMUNITY, day, north.config.community.timezone)
        records = pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"]
    assert centre_events == gate_events  # every event, once
    assert gate_events["checked_in"] == 501 and gate_events["delivered"] == 30
    assert gate_events["task_escalated"] > 0
    per_gate = {gate.id: daily_counts(gate.conn, day, gate.config.community.timezone)["totals"]
                for gate in (north, south)}
    assert {c["gate"]: {k: c[k] for k in TOTALS} for c in compound["gates"]} == per_gate
    assert compound["totals"] == {k: per_gate["north"][k] + per_gate["south"][k]
                                  for k in TOTALS}
    escalated = 0
    for when in sorted({began, day}):  # each day the gate's rounds ran: the same on both sides
        own = {gate.id: daily_counts(gate.conn, when, timezone)["totals"]
               for gate in (north, south)}
        with connect(centre_url) as pg:
            at_centre = compound_counts(pg, COMMUNITY, when, timezone)
        assert {c["gate"]: {k: c[k] for k in TOTALS} for c in at_centre["gates"]} == own
        assert at_centre["totals"]["escalated"] == own["north"]["escalated"]
        escalated += at_centre["totals"]["escalated"]
    assert escalated > 0

    north.journal().acknowledge(0)  # the same batches, all of them, pushed again
    again = north.sync(clock)
    assert (again.pushed, again.pending, again.centre) == (0, 0, "reachable")
    with connect(centre_url) as pg:
        assert pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"] == records
        assert compound_counts(pg, COMMUNITY, day, north.config.community.timezone) == compound
        assert pg.execute("SELECT count(*) AS n FROM sync_alarms").fetchone()["n"] == 0
