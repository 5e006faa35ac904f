"""A team collecting its door-delivery parcels (kiosk.collect) on a real SQLite file: which slots
double-blink, beside the gate's own lights; the signals table rebuilt by migration 10."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import check_in, fill_floor

from kiosk.clock import ManualClock
from kiosk.collect import collect
from kiosk.observation import set_observation
from kiosk.queries import slots_view
from kiosk.store import SqliteUnitOfWork, connect, migrate

STAFF = "zhang@web"


def evening() -> ManualClock:
    return ManualClock(datetime(2026, 12, 3, 13, 0, tzinfo=UTC))  # 21:00 in Shanghai


def lights(conn, clock) -> dict[str, str]:
    return SqliteUnitOfWork(conn).signals.active(clock.now())


def test_collect_lights_the_team_s_slots_for_its_time_and_records_who(community, conn, uow,
                                                                      rules):
    clock = evening()
    set_observation("24-2304", True, uow, rules, clock, actor="test")
    mine = check_in(conn, community, clock, "24-2304", "SF1")  # property's task
    check_in(conn, community, clock, "2-902", "SF2")  # not under observation: no task
    clock.advance(community.kiosk.light_s)  # the check-in lights are out

    done = collect("property", uow, rules, clock, seconds=120, actor=STAFF)
    assert (done.slots, done.parcels, done.on_floor) == ((mine.slot,), 1, 0)
    assert lights(conn, clock) == {mine.slot: "collect"}
    [event] = conn.execute("SELECT * FROM events WHERE kind = 'collect'").fetchall()
    assert (event["actor"], json.loads(event["detail"])["slots"]) == (STAFF, [mine.slot])
    assert {s["code"]: s["light"] for s in slots_view(conn, clock.now())}[mine.slot] == "collect"

    clock.advance(119)
    assert lights(conn, clock) == {mine.slot: "collect"}
    clock.advance(1)
    assert lights(conn, clock) == {}

    assert collect("committee", uow, rules, clock, seconds=120, actor=STAFF).slots == ()
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'collect'").fetchone()[0] == 1


def test_the_gate_s_light_shows_while_it_lasts_then_the_team_s_again(community, conn, uow,
                                                                     rules):
    """A courier or resident at the slot is not misled, and the staff's slot is not lost."""
    clock = evening()
    set_observation("24-2304", True, uow, rules, clock, actor="test")
    task = check_in(conn, community, clock, "24-2304", "SF1")
    clock.advance(community.kiosk.light_s)
    collect("property", uow, rules, clock, seconds=120, actor=STAFF)

    another = check_in(conn, community, clock, "24-2304", "SF3")  # the courier's light: on
    assert another.slot == task.slot
    assert lights(conn, clock) == {task.slot: "on"}
    clock.advance(community.kiosk.light_s)
    assert lights(conn, clock) == {task.slot: "collect"}  # out: the staff's pattern again

    with uow:  # a resident's pickup from the same slot, as kiosk.services lights it
        uow.signals.set(task.slot, "blink", clock.now() + timedelta(seconds=30), "pickup")
    collect("property", uow, rules, clock, seconds=120, actor=STAFF)  # pressed again
    assert lights(conn, clock) == {task.slot: "blink"}
    clock.advance(30)
    assert lights(conn, clock) == {task.slot: "collect"}


def test_parcels_on_the_floor_are_counted_not_lit(community, conn, uow, rules):
    clock = evening()
    set_observation("24-2304", True, uow, rules, clock, actor="test")
    floor = community.layout.overflow.code
    on_floor = fill_floor(conn, community, clock, 5)  # 24-2304's and 29-1004's among them
    carried = [p for p in on_floor if p.door_task is not None]
    assert carried
    done = collect(None, uow, rules, clock, seconds=60, actor=STAFF)
    assert floor not in done.slots and done.slots
    assert done.on_floor == len(carried)
    assert conn.execute("SELECT COUNT(*) FROM signals WHERE slot_code = ?",
                        (floor,)).fetchone()[0] == 0


def test_migration_10_keeps_the_lights_and_allows_collect_only_in_the_staff_layer(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, target=9)
    old.executescript("""
        INSERT INTO slots (code, shelf, position, capacity) VALUES ('A-12', 'A', 12, 4);
        INSERT INTO signals (slot_code, mode, until, reason)
            VALUES ('A-12', 'blink', '2026-12-03T13:00:30.000+00:00', 'pickup');
    """)
    with pytest.raises(sqlite3.IntegrityError):  # what the old CHECK refused
        old.execute("UPDATE signals SET mode = 'collect'")
    old.close()

    conn = connect(path)
    uow = SqliteUnitOfWork(conn)
    at = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert uow.signals.active(at) == {"A-12": "blink"}  # the pickup still blinks
    with uow:
        uow.signals.set("A-12", "collect", datetime(2026, 12, 3, 13, 2, tzinfo=UTC), "collect")
    assert [tuple(r) for r in conn.execute("SELECT layer, mode FROM signals ORDER BY layer")] == [
        ("gate", "blink"), ("staff", "collect")]
    with pytest.raises(sqlite3.IntegrityError), uow:
        uow.signals.set("A-12", "glow", at, "x")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):  # a gate row cannot claim the staff's mode
        conn.execute("UPDATE signals SET mode = 'collect' WHERE layer = 'gate'")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
