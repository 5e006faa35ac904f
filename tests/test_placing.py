"""A slot's button confirms the parcel in it: the right press, a wrong one, none in time, and a
pickup's (kiosk.placing), on a real SQLite store. Decided by the order of events and the
tests' own clock, never by wall-clock time."""

from __future__ import annotations

import json

import pytest
from buttons import add_buttons
from conftest import check_in, pickup_code

from kiosk.community import open_store
from kiosk.placing import press, record_unplaced
from kiosk.services import Rules, pick_up
from kiosk.store import SqliteUnitOfWork
from kiosk.timefmt import iso


@pytest.fixture
def config(community):
    return add_buttons(community.path)


@pytest.fixture
def store(config):
    connection = open_store(config)  # mirrors which slots have a button
    yield connection
    connection.close()


def lights(conn, clock) -> dict[str, str]:
    return SqliteUnitOfWork(conn).signals.active(clock.now())


def events(conn, kind: str) -> list[dict]:
    rows = conn.execute("SELECT slot_code, parcel_id, detail FROM events WHERE kind = ? "
                        "ORDER BY id", (kind,)).fetchall()
    return [{"slot": r["slot_code"], "parcel": r["parcel_id"], **json.loads(r["detail"])}
            for r in rows]


def placed_at(conn, parcel: int) -> str | None:
    return conn.execute("SELECT placed_at FROM parcels WHERE id = ?", (parcel,)).fetchone()[0]


def push(slot, conn, config, clock):
    return press(slot, SqliteUnitOfWork(conn), Rules.from_config(config), clock)


def test_a_slot_with_a_button_waits_for_it_and_the_press_places_the_parcel(store, config, clock):
    parcel = check_in(store, config, clock, "24-2304")
    assert parcel.slot == "A-12"
    clock.advance(config.kiosk.light_s + 1)  # longer than a slot without a button stays lit
    assert lights(store, clock) == {"A-12": "on"}
    assert placed_at(store, parcel.parcel) is None
    result = push("A-12", store, config, clock)
    assert (result.action, result.parcels) == ("placed", (parcel.parcel,))
    assert placed_at(store, parcel.parcel) == iso(clock.now())
    assert lights(store, clock) == {}
    assert [e["parcel"] for e in events(store, "placed")] == [parcel.parcel]


def test_a_wrong_slot_alarms_on_both_until_the_right_one_is_pressed(store, config, clock):
    parcel = check_in(store, config, clock, "24-2304")
    clock.advance(3)
    wrong = push("B-07", store, config, clock)
    assert (wrong.action, wrong.expected) == ("wrong", "A-12")
    assert lights(store, clock) == {"A-12": "alarm", "B-07": "alarm"}
    assert events(store, "wrong_slot") == [{"slot": "B-07", "parcel": parcel.parcel,
                                            "expected": "A-12", "during": "placing"}]
    assert placed_at(store, parcel.parcel) is None  # a wrong press places nothing
    right = push("A-12", store, config, clock)
    assert right.action == "placed"
    assert lights(store, clock) == {}
    slot = store.execute("SELECT slot_code FROM parcels WHERE id = ?", (parcel.parcel,))
    assert slot.fetchone()[0] == "A-12"


def test_the_newest_unconfirmed_check_in_is_the_slot_meant(store, config, clock):
    check_in(store, config, clock, "24-2304")
    clock.advance(1)
    check_in(store, config, clock, "33-1102")  # B-07
    assert lights(store, clock) == {"A-12": "on", "B-07": "on"}
    assert push("B-07", store, config, clock).action == "placed"  # either lit one is right
    assert push("B-01", store, config, clock).expected == "A-12"


def test_a_slot_not_pressed_in_time_is_recorded_once_and_goes_dark(store, config, clock):
    parcel = check_in(store, config, clock, "24-2304")
    rules = Rules.from_config(config)
    clock.advance(config.kiosk.place_s - 1)
    assert record_unplaced(SqliteUnitOfWork(store), rules, clock) == []
    clock.advance(1)
    assert record_unplaced(SqliteUnitOfWork(store), rules, clock) == [parcel.parcel]
    assert record_unplaced(SqliteUnitOfWork(store), rules, clock) == []  # once
    assert lights(store, clock) == {}
    assert [e["slot"] for e in events(store, "not_placed")] == ["A-12"]
    assert push("A-12", store, config, clock).action == "idle"  # too late to confirm here


def test_the_blinking_slot_confirms_a_pickup_and_another_alarms(store, config, clock):
    check_in(store, config, clock, "24-2304")
    push("A-12", store, config, clock)
    clock.advance(60)
    pick_up(pickup_code(store, "24-2304"), SqliteUnitOfWork(store), Rules.from_config(config),
            clock)
    assert lights(store, clock) == {"A-12": "blink"}
    wrong = push("A-11", store, config, clock)
    assert (wrong.action, wrong.expected) == ("wrong", "A-12")
    assert events(store, "wrong_slot")[-1]["during"] == "pickup"
    assert lights(store, clock) == {"A-11": "alarm", "A-12": "alarm"}
    assert push("A-12", store, config, clock).action == "taken"
    assert lights(store, clock) == {}
    assert [e["slot"] for e in events(store, "taken")] == ["A-12"]


def test_a_press_when_nothing_waits_records_nothing(store, config, clock):
    before = store.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert push("B-03", store, config, clock).action == "idle"
    assert store.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    assert lights(store, clock) == {}


def test_without_buttons_nothing_waits_to_be_placed(conn, community, clock):
    parcel = check_in(conn, community, clock, "24-2304")
    clock.advance(community.kiosk.light_s)
    assert lights(conn, clock) == {}  # lit for light_seconds, as before
    clock.advance(3600)
    assert record_unplaced(SqliteUnitOfWork(conn), Rules.from_config(community), clock) == []
    assert placed_at(conn, parcel.parcel) is None
