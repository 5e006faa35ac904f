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


FAR = 2**33  # past a signed 32-bit integer (2**31) and an unsigned one (2**32)


def test_ids_and_sequences_past_32_bits_reach_the_centre_as_they_are(two_gates, centre_url,
                                                                     clock):
    """SQLite's ids are 64-bit and so are the centre's: a gate whose ids, journal and
    commands have counted past 2**32 joins and syncs like any other, in as many chunks as
    it has rows (not ids)."""
    from bench.proofs.sync_invariants import caught_up
    from kiosk.centre.commands import command_status, hand_out_at_centre
    from kiosk.timefmt import iso

    centre, url, gates = two_gates
    north = gates["north"]
    at, slot = iso(clock.now()), north.config.layout.slots[0].code
    # A long history's last rows, their ids far on, and a journal that has counted as far
    # (its epoch starting there, as `shelf restore` starts one after the newest seq).
    north.conn.execute("BEGIN IMMEDIATE")
    north.conn.execute("INSERT INTO pickup_codes (id, household_id, code, created_at, used_at)"
                       " VALUES (?, '2-902', '123456', ?, ?)", (FAR, at, at))
    north.conn.execute("INSERT INTO parcels (id, label, ref, household_id, slot_code, status,"
                       " pickup_code_id, checked_in_at, closed_at) VALUES (?, 'DS1:2-902:OLD:A',"
                       " 'OLD', '2-902', ?, 'collected', ?, ?, ?)", (FAR, slot, FAR, at, at))
    north.conn.execute("INSERT INTO events (id, at, kind, actor, parcel_id, household_id,"
                       " slot_code, detail) VALUES (?, ?, 'collected', 'resident@kiosk', ?,"
                       " '2-902', ?, '{\"via\": \"qr\"}')", (FAR, at, FAR, slot))
    north.conn.execute("DELETE FROM sqlite_sequence WHERE name = 'sync_journal'")
    north.conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('sync_journal', ?)",
                       (FAR,))
    north.conn.execute("UPDATE sync_state SET base = ?, acked = ?", (FAR, FAR))
    north.conn.execute("COMMIT")
    parcel = check_in(north.conn, north.config, clock, "2-902", "NEW").parcel
    assert parcel == FAR + 1

    joined = north.sync(clock)
    assert (joined.centre, joined.pending, joined.error) == ("reachable", 0, None)
    assert north.journal().state().acked > FAR
    with connect(centre_url) as pg:
        pg.execute("UPDATE gates SET last_command = %s WHERE id = 'north'", (FAR,))
        issued = hand_out_at_centre(pg, COMMUNITY, "north", north.journal().state().epoch,
                                    parcel, reason="ID seen", id_checked=True, actor="zhang",
                                    now=clock.now())
    assert issued.seq == FAR + 1
    assert north.sync(clock).pulled == 1
    assert north.journal().commands_applied() == FAR + 1

    with connect(centre_url) as pg:
        assert caught_up(north.conn, pg, COMMUNITY, "north",
                         north.config.community.timezone) == []
        parcels = pg.execute("SELECT id, ref, status FROM parcels WHERE gate_id = 'north'"
                             " ORDER BY id").fetchall()
        first = pg.execute("SELECT min(seq) AS seq FROM sync_records WHERE gate_id = 'north'"
                           ).fetchone()["seq"]
        done = command_status(pg, COMMUNITY, "north", FAR + 1)
    assert [(p["id"], p["ref"], p["status"]) for p in parcels] == [
        (FAR, "OLD", "collected"), (FAR + 1, "NEW", "collected")]
    assert first == FAR + 1 and done["status"] == "applied"


def test_the_centre_keeps_every_id_and_sequence_in_64_bits(centre_url):
    """A column of the centre's schema that holds a gate's id or a sequence is BIGINT: a
    32-bit INTEGER there would refuse a gate's row past 2**31 (the test above, at run time;
    this one names the column a new migration gets wrong)."""
    with connect(centre_url) as pg:
        narrow = pg.execute(
            "SELECT table_name || '.' || column_name AS col FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND data_type IN ('integer', 'smallint')"
            " AND (column_name IN ('id', 'seq', 'base', 'applied', 'pending', 'last_command',"
            " 'commands_applied', 'credential') OR column_name LIKE '%%\\_id'"
            " OR column_name LIKE '%%\\_seq')").fetchall()
    assert [r["col"] for r in narrow] == []


def test_an_acknowledgement_lost_to_a_power_cut_only_sends_the_same_again(two_gates,
                                                                          centre_url, clock):
    """The sync's acknowledgements are written without an fsync (the kiosk never queues behind
    them): one taken back by a power cut sends those records again, and the centre takes
    them as the same. The store's own commits stay FULL."""
    north = two_gates[2]["north"]
    check_in(north.conn, north.config, clock, "2-902", "ACK-1")
    first = north.sync(clock)
    assert first.pending == 0 and first.pushed > 0
    assert north.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    with connect(centre_url) as pg:
        before = pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"]
    north.journal().acknowledge(0)  # as if the acknowledgements never reached the SD card
    again = north.sync(clock)
    assert (again.pushed, again.pending, again.centre) == (0, 0, "reachable")
    with connect(centre_url) as pg:
        assert pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"] == before
        assert pg.execute("SELECT count(*) AS n FROM sync_alarms").fetchone()["n"] == 0
