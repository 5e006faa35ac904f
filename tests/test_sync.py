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


def put_under_observation(gate, clock, household: str) -> None:
    from kiosk.observation import set_observation

    assert set_observation(household, True, SqliteUnitOfWork(gate.conn),
                           Rules.from_config(gate.config), clock, actor="tests")


def test_a_door_delivery_confirmed_at_the_centre_waits_for_its_gate(two_gates, centre_url,
                                                                     clock):
    from kiosk.centre.commands import command_status, confirm_delivery, waiting_commands

    centre, url, gates = two_gates
    north = gates["north"]
    put_under_observation(north, clock, "24-2304")
    task = check_in(north.conn, north.config, clock, "24-2304", "FOOD1").door_task
    assert task is not None
    north.sync(clock)
    origin = north.conn.execute("SELECT origin FROM door_tasks WHERE id = ?",
                                (task.id,)).fetchone()[0]
    north.cut_off()

    with connect(centre_url) as pg:
        issued = confirm_delivery(pg, COMMUNITY, "north", origin, task.id, "24-2304",
                                  centre.label_secret, actor="li", now=clock.now())
        again = confirm_delivery(pg, COMMUNITY, "north", origin, task.id, "24-2304",
                                 centre.label_secret, actor="li", now=clock.now())
        assert again.repeat and again.seq == issued.seq  # one command, however often tapped
        waiting = waiting_commands(pg, COMMUNITY)
    assert [(w["gate_id"], w["gate_name"], w["kind"]) for w in waiting] == [
        ("north", "north", "deliver")]

    offline = north.sync(clock)
    assert offline.centre == "unreachable" and offline.pulled == 0
    assert north.conn.execute("SELECT status FROM parcels WHERE ref = 'FOOD1'").fetchone()[0] \
        == "waiting"  # still on the shelf: nothing pretends it was delivered

    north.reconnect(url)
    back = north.sync(clock)
    assert (back.centre, back.pulled, back.pending) == ("reachable", 1, 0)
    assert north.conn.execute("SELECT status FROM parcels WHERE ref = 'FOOD1'").fetchone()[0] \
        == "collected"
    assert north.sync(clock).pulled == 0  # applied once
    delivered = north.conn.execute("SELECT actor FROM events WHERE kind = 'delivered'").fetchall()
    assert [d["actor"] for d in delivered] == ["li@centre"]
    with connect(centre_url) as pg:
        done = command_status(pg, COMMUNITY, "north", issued.seq)
        assert waiting_commands(pg, COMMUNITY) == []
        mirrored = pg.execute("SELECT status FROM parcels WHERE ref = 'FOOD1'").fetchone()
    assert done["status"] == "applied" and done["result"]["task"] == task.id
    assert mirrored["status"] == "collected"


def test_a_wrong_door_is_refused_at_the_centre_at_once(two_gates, centre_url, clock):
    from kiosk.centre.commands import confirm_delivery
    from kiosk.errors import WrongDoor

    centre, url, gates = two_gates
    north = gates["north"]
    put_under_observation(north, clock, "24-2304")
    task = check_in(north.conn, north.config, clock, "24-2304", "P1").door_task
    north.sync(clock)
    origin = north.journal().state().epoch
    with connect(centre_url) as pg, pytest.raises(WrongDoor):
        confirm_delivery(pg, COMMUNITY, "north", origin, task.id, "24-2403",
                         centre.label_secret, actor="li", now=clock.now())


def test_a_command_the_gate_cannot_apply_comes_back_refused(two_gates, centre_url, clock):
    from kiosk.centre.commands import command_status, hand_out_at_centre

    centre, url, gates = two_gates
    north = gates["north"]
    parcel = check_in(north.conn, north.config, clock, "2-902", "P9").parcel
    north.sync(clock)
    origin = north.journal().state().epoch
    with connect(centre_url) as pg:
        issued = hand_out_at_centre(pg, COMMUNITY, "north", origin, parcel, reason="ID seen",
                                    id_checked=True, actor="zhang", now=clock.now())
    # Meanwhile the resident collects it at the shelf with the code.
    act_on_code(pickup_code(north.conn, "2-902"), SqliteUnitOfWork(north.conn),
                Rules.from_config(north.config), clock)
    report = north.sync(clock)
    assert [r["error"] for r in report.refused] == ["not_waiting"]
    with connect(centre_url) as pg:
        done = command_status(pg, COMMUNITY, "north", issued.seq)
    assert done["status"] == "refused" and done["result"]["error"] == "not_waiting"
    assert north.conn.execute("SELECT count(*) FROM events WHERE kind = 'handed_out'"
                              ).fetchone()[0] == 0


def test_an_observation_list_applied_at_the_centre_reaches_an_offline_gate_later(
        two_gates, centre_url, community_template, clock):
    from datetime import date

    from kiosk.centre.lists import apply_observation_at_centre, import_households_at_centre

    centre, url, gates = two_gates
    north, south = gates["north"], gates["south"]
    rules = Rules.from_config(centre)
    households = (community_template / "households.csv").read_bytes()
    with connect(centre_url) as pg:
        report, issued = import_households_at_centre(
            pg, COMMUNITY, centre.community.buildings, "households.csv", households,
            clock.now(), actor="chen", apply=True, rules=rules)
    assert report.applied and [i.gate for i in issued] == ["north", "south"]
    for gate in (north, south):
        assert gate.sync(clock).pulled == 1  # the same list, applied there: nothing changes
        check_in(gate.conn, gate.config, clock, "30-1301", f"{gate.id}-1")
    south.cut_off()

    # 16:00 in Shanghai: the committee serves building 30 until 17:30.
    day_list = "楼栋,房号,状态\n30,1301,新增\n".encode()
    with connect(centre_url) as pg:
        listed, issued = apply_observation_at_centre(
            pg, COMMUNITY, "day.csv", day_list, clock.now(), list_date=date(2026, 11, 29),
            source="committee", actor="chen", rules=rules)
        assert listed.applied and [e.household for e in listed.added] == ["30-1301"]
        held = pg.execute("SELECT under_observation FROM households WHERE id = '30-1301'"
                          ).fetchone()
    assert held["under_observation"]
    assert north.sync(clock).pulled == 1
    assert south.sync(clock).centre == "unreachable"

    clock.advance(3 * 3600)  # 19:00: the property company covers it after hours
    south.reconnect(url)
    back = south.sync(clock)
    assert (back.pulled, back.refused) == (1, [])

    def task_team(gate) -> list[tuple[str, str]]:
        return [(r["household_id"], r["team"]) for r in gate.conn.execute(
            "SELECT household_id, team FROM door_tasks WHERE status = 'open'")]

    assert task_team(north) == [("30-1301", "committee")]
    assert task_team(south) == [("30-1301", "property")]
    revoked = south.conn.execute("SELECT count(*) FROM pickup_codes WHERE household_id ="
                                 " '30-1301' AND revoked_at IS NOT NULL").fetchone()[0]
    assert revoked == 1  # its code opens nothing there now: staff carry the parcel
    with connect(centre_url) as pg:
        tasks = pg.execute("SELECT gate_id, team FROM door_tasks WHERE status = 'open'"
                           " ORDER BY gate_id").fetchall()
    assert [(t["gate_id"], t["team"]) for t in tasks] == [("north", "committee"),
                                                         ("south", "property")]
