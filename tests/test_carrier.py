"""Carriers' own waybills at the gate (issue 7), on a real SQLite file of the sample community.

The sample list holds rooms easy to confuse in one building: 24-2304/24-2403 (the incident),
15-1502/15-1205 (15-1205 has two phones), 3-301/3-310, 24-2001/24-2003.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import CodeTaken, InvalidCarrierCode, UnknownHousehold
from kiosk.labels import make_label
from kiosk.queries import gate_events, last_event_id, slots_view
from kiosk.services import act_on_carrier, act_on_code, act_on_payload, expect, pick_up
from kiosk.store import connect, migrate

WAYBILL = "SF1234567890"


def count(conn, table, where="1"):
    return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def parcel_row(conn, parcel):
    return conn.execute("SELECT * FROM parcels WHERE id = ?", (parcel,)).fetchone()


def details(conn, kind):
    rows = conn.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
    return [json.loads(r["detail"]) for r in rows]


def scan(uow, rules, clock, code=WAYBILL, kind="CODE128"):
    return act_on_payload(code.encode(), uow, rules, clock, kind=kind)


def typed(uow, rules, clock, room, tail=None, code=WAYBILL, **options):
    return act_on_carrier(code, uow, rules, clock, room=room, phone_tail=tail,
                          source="gate-keypad", **options)


def test_an_announced_waybill_is_confirmed_by_its_phone_before_it_checks_in(conn, uow, rules,
                                                                            clock):
    announced = expect("24-2304", WAYBILL.lower(), uow, clock, actor="alice@web")
    assert (announced.created, announced.announcement.code) == (True, WAYBILL)
    asked = scan(uow, rules, clock)  # a claim, not a check: nothing lights yet
    assert (asked.action, asked.code, asked.announced, asked.parcel) == (
        "needs_room", WAYBILL, "24-2304", None)
    assert count(conn, "parcels") == count(conn, "signals") == count(conn, "outbox") == 0
    [event] = gate_events(conn, 0)
    assert (event["kind"], event["announced"], event["household"]) == (
        "needs_room", "24-2304", None)
    result = typed(uow, rules, clock, None, "2304")  # the waybill's 138****2304 alone
    assert (result.action, result.household, result.slot, result.code) == (
        "checkin", "24-2304", "A-12", WAYBILL)
    assert result.room_confirmed is True and result.error is None
    row = parcel_row(conn, result.parcel)
    assert (row["label"], row["ref"], row["kind"], row["room_confirmed"]) == (
        WAYBILL, WAYBILL, "carrier", 1)
    [notice] = conn.execute("SELECT payload FROM outbox WHERE parcel_id = ?", (result.parcel,))
    assert json.loads(notice["payload"])["parcel_ref"] == WAYBILL  # the resident knows it
    used = conn.execute("SELECT used_at, parcel_id FROM expected").fetchone()
    assert used["used_at"] and used["parcel_id"] == result.parcel
    [event] = details(conn, "checked_in")
    assert event | {"code": WAYBILL, "via": "announced", "source": "gate-keypad",
                    "announced_for": "24-2304", "announced_by": "alice@web",
                    "room_confirmed": True} == event


def test_a_waybill_phone_that_is_not_the_announced_households_is_refused(conn, uow, rules,
                                                                         clock):
    """The issue's theft: 24-2304's waybill announced for 2-902. Its phone is not 2-902's, so
    nothing checks in; the room typed from the waybill then wins, and the check-in says
    whom the announcement named."""
    expect("2-902", WAYBILL, uow, clock, actor="bot@api")
    refused = typed(uow, rules, clock, None, "2304")
    assert (refused.action, refused.error, refused.code) == (
        "rejected", "announcement_mismatch", WAYBILL)
    assert "2-9**" in refused.message and "2-902" not in refused.message
    assert count(conn, "parcels") == count(conn, "pickup_codes") == 0
    assert details(conn, "scan_refused")[0]["error"] == "announcement_mismatch"
    done = typed(uow, rules, clock, "24-2304", "2304")
    assert (done.action, done.household, done.room_confirmed, done.announced) == (
        "checkin", "24-2304", True, "2-902")
    [event] = details(conn, "checked_in")
    assert event | {"via": "typed", "announced_for": "2-902", "announced_by": "bot@api"} == event
    assert conn.execute("SELECT parcel_id FROM expected").fetchone()[0] == done.parcel
    assert [r[0] for r in conn.execute("SELECT household_id FROM pickup_codes")] == ["24-2304"]


@pytest.mark.parametrize("room, tail, confirmed", [
    ("24-2304", None, True),  # confusable with 2403, but the announcement and the waybill agree
    ("24-2304", "9999", True),  # a phone the list does not know: the two still agree
    ("24-2304", "2304", True),
])
def test_a_typed_room_that_is_the_announced_one_is_confirmed_by_the_announcement(
        conn, uow, rules, clock, room, tail, confirmed):
    expect("24-2304", WAYBILL, uow, clock, actor="alice@web")
    result = typed(uow, rules, clock, room, tail)
    assert (result.action, result.household, result.room_confirmed) == (
        "checkin", "24-2304", confirmed)
    assert details(conn, "checked_in")[0]["via"] == "announced"


def test_a_neighbours_phone_still_questions_the_announced_room(conn, uow, rules, clock):
    expect("24-2304", WAYBILL, uow, clock, actor="alice@web")
    asked = typed(uow, rules, clock, "24-2304", "2403")  # 2403's phone on the waybill
    assert (asked.action, asked.error, asked.suggestions) == (
        "rejected", "phone_mismatch", ("24-2403",))
    kept = typed(uow, rules, clock, "24-2304", "2403", keep_room=True)
    assert (kept.action, kept.household, kept.room_confirmed) == ("checkin", "24-2304", False)


def test_an_unannounced_waybill_ignores_a_phone_without_a_room(conn, uow, rules, clock):
    result = typed(uow, rules, clock, None, "2304")
    assert (result.action, result.announced, result.parcel) == ("needs_room", None, None)
    assert "announced" not in details(conn, "needs_room")[0]


def test_an_unannounced_waybill_asks_for_the_room_and_stores_no_parcel(conn, uow, rules, clock):
    result = scan(uow, rules, clock, kind="QRCODE")
    assert (result.action, result.code, result.parcel, result.error) == (
        "needs_room", WAYBILL, None, None)
    assert count(conn, "parcels") == count(conn, "outbox") == count(conn, "signals") == 0
    [event] = gate_events(conn, 0)
    assert (event["kind"], event["code"], event["source"]) == ("needs_room", WAYBILL, "camera")
    assert details(conn, "needs_room")[0]["symbology"] == "QRCODE"


def test_a_typed_room_not_in_the_list_is_refused_with_near_rooms_and_no_parcel(conn, uow, rules,
                                                                               clock):
    result = typed(uow, rules, clock, "24-2340")  # 2304 with its last two digits swapped
    assert (result.action, result.error, result.code) == ("rejected", "unknown_household",
                                                          WAYBILL)
    assert result.suggestions == ("24-2304",)
    assert "24-23** is not in the household list" in result.message  # masked
    assert count(conn, "parcels") == count(conn, "pickup_codes") == count(conn, "outbox") == 0
    [event] = gate_events(conn, 0)
    assert (event["kind"], event["error"], event["suggestions"], event["code"], event["source"]
            ) == ("scan_refused", "unknown_household", ["24-2304"], WAYBILL, "gate-keypad")


@pytest.mark.parametrize("room, near", [
    ("24-2304", ["24-2403"]), ("24-2403", ["24-2003", "24-2304"]), ("15-1502", ["15-1205"]),
    ("3-301", ["3-310"]), ("3-310", ["3-301"]), ("24-2001", ["24-2003"])])
def test_a_confusable_room_asks_for_the_phone_tail(conn, uow, rules, clock, room, near):
    result = typed(uow, rules, clock, room)
    assert (result.action, result.error, list(result.suggestions)) == (
        "rejected", "confusable_room", near)
    assert "last 4 digits" in result.message
    assert count(conn, "parcels") == 0


def test_a_room_nobody_could_confuse_checks_in_without_a_tail(conn, uow, rules, clock):
    result = typed(uow, rules, clock, "24-501")
    assert (result.action, result.household, result.room_confirmed) == ("checkin", "24-501",
                                                                         True)


def test_2304_typed_for_2403s_waybill_is_caught_by_the_phone_tail(conn, uow, rules, clock):
    wrong = typed(uow, rules, clock, "24-2304", "2403")  # the waybill says 138****2403
    assert (wrong.action, wrong.error, wrong.suggestions) == ("rejected", "phone_mismatch",
                                                              ("24-2403",))
    assert "24-23**" in wrong.message and "24-2403" not in wrong.message
    assert count(conn, "parcels") == count(conn, "outbox") == 0
    chosen = typed(uow, rules, clock, "24-2403", "2403")  # the courier chooses 2403
    assert (chosen.action, chosen.household, chosen.room_confirmed) == ("checkin", "24-2403",
                                                                        True)
    assert count(conn, "parcels", "household_id = '24-2304'") == 0


def test_the_tail_of_a_households_second_phone_counts(conn, uow, rules, clock):
    wrong = typed(uow, rules, clock, "15-1502", "5021")  # 15-1205's second phone
    assert (wrong.error, wrong.suggestions) == ("phone_mismatch", ("15-1205",))
    right = typed(uow, rules, clock, "15-1205", "5021")
    assert (right.action, right.household, right.room_confirmed) == ("checkin", "15-1205", True)


def test_a_tail_fitting_neither_room_checks_in_marked_room_not_confirmed(conn, uow, rules, clock):
    result = typed(uow, rules, clock, "24-2304", "7777")
    assert (result.action, result.household, result.room_confirmed) == ("checkin", "24-2304",
                                                                        False)
    assert parcel_row(conn, result.parcel)["room_confirmed"] == 0
    [event] = [e for e in gate_events(conn, 0) if e["kind"] == "checked_in"]
    assert (event["room_confirmed"], event["code"], event["slot"]) == (False, WAYBILL,
                                                                       result.slot)
    [slot] = [s for s in slots_view(conn, clock.now()) if s["code"] == result.slot]
    [parcel] = slot["parcels"]
    assert (parcel["kind"], parcel["room_confirmed"], parcel["ref"]) == ("carrier", False,
                                                                         WAYBILL)


def test_the_courier_may_keep_the_typed_room_which_staff_then_check(conn, uow, rules, clock):
    assert typed(uow, rules, clock, "24-2304", "2403").error == "phone_mismatch"
    kept = typed(uow, rules, clock, "24-2304", "2403", keep_room=True)
    assert (kept.action, kept.household, kept.room_confirmed) == ("checkin", "24-2304", False)
    no_phone = typed(uow, rules, clock, "3-301", code="YT9876543210", keep_room=True)
    assert (no_phone.action, no_phone.household, no_phone.room_confirmed) == (
        "checkin", "3-301", False)


def test_a_carrier_code_scanned_again_is_the_same_parcel(conn, uow, rules, clock):
    first = typed(uow, rules, clock, "24-2304", "2304")
    clock.advance(40)
    again = scan(uow, rules, clock)
    assert (again.action, again.parcel, again.slot, again.repeat, again.code) == (
        "checkin", first.parcel, first.slot, True, WAYBILL)
    retyped = typed(uow, rules, clock, "24-2403", "2403")  # whatever is typed: it is on a shelf
    assert (retyped.parcel, retyped.household, retyped.repeat) == (first.parcel, "24-2304", True)
    assert count(conn, "parcels") == count(conn, "outbox") == 1
    code = conn.execute("SELECT code FROM pickup_codes").fetchone()["code"]
    pick_up(code, uow, rules, clock)
    collected = scan(uow, rules, clock)
    assert (collected.action, collected.error, collected.code) == (
        "rejected", "already_collected", WAYBILL)
    assert count(conn, "parcels") == 1


def test_a_failing_write_in_a_typed_check_in_leaves_nothing(conn, uow, rules, clock):
    expect("24-2304", WAYBILL, uow, clock, actor="alice@web")
    conn.execute("CREATE TEMP TRIGGER break_outbox BEFORE INSERT ON outbox "
                 "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    for result in (typed(uow, rules, clock, "24-2403", "2403", code="JD0001"),
                   typed(uow, rules, clock, None, "2304")):
        assert (result.action, result.error) == ("rejected", "internal")
    for table in ("parcels", "pickup_codes", "signals", "outbox"):
        assert count(conn, table) == 0, table
    assert conn.execute("SELECT used_at FROM expected").fetchone()["used_at"] is None


@pytest.mark.parametrize("room, tail, error", [
    ("24-2304", "123", "bad_phone_tail"), ("24-2304", "12345", "bad_phone_tail"),
    ("2304", None, "unknown_household"), ("242304", "2304", "unknown_household"),
])
def test_badly_typed_rooms_and_tails_are_refused_with_what_to_type(conn, uow, rules, clock, room,
                                                                    tail, error):
    result = typed(uow, rules, clock, room, tail)
    assert (result.action, result.error) == ("rejected", error)
    assert count(conn, "parcels") == 0


def test_expect_refuses_unknown_households_and_codes_announced_for_others(conn, uow, rules,
                                                                          clock):
    with pytest.raises(UnknownHousehold) as unknown:
        expect("3-130", WAYBILL, uow, clock, actor="alice@web")
    assert unknown.value.suggestions == ("3-310",)
    with pytest.raises(InvalidCarrierCode):
        expect("24-2304", "SF 1234", uow, clock, actor="alice@web")
    first = expect("24-2304", WAYBILL, uow, clock, actor="alice@web")
    again = expect("24-2304", f" {WAYBILL} ", uow, clock, actor="bot@api")
    assert (again.created, again.announcement) == (False, first.announcement)
    with pytest.raises(CodeTaken, match="another household"):
        expect("24-2403", WAYBILL, uow, clock, actor="alice@web")
    assert count(conn, "expected") == 1 and count(conn, "events", "kind = 'announced'") == 1


def test_a_code_announced_after_its_check_in_is_recorded_as_met(conn, uow, rules, clock):
    parcel = typed(uow, rules, clock, "24-501").parcel
    with pytest.raises(CodeTaken, match="checked in for another household"):
        expect("24-2304", "sf1234567890", uow, clock, actor="alice@web")
    met = expect("24-501", WAYBILL, uow, clock, actor="alice@web")
    assert met.announcement.parcel_id == parcel and met.announcement.used_at == clock.now()
    assert scan(uow, rules, clock).repeat  # still the parcel on the shelf, not a second one


def test_gate_events_follow_every_outcome_at_the_gate_in_order(conn, uow, rules, community,
                                                               clock):
    start = last_event_id(conn)
    label = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    act_on_payload(label, uow, rules, clock)
    scan(uow, rules, clock)
    typed(uow, rules, clock, "24-2304")
    act_on_code("000000", uow, rules, clock, source="gate-keypad")
    code = conn.execute("SELECT code FROM pickup_codes").fetchone()["code"]
    act_on_code(code, uow, rules, clock, source="gate-keypad")
    events = gate_events(conn, start)
    assert [(e["kind"], e["source"]) for e in events] == [
        ("checked_in", "camera"), ("needs_room", "camera"), ("scan_refused", "gate-keypad"),
        ("scan_refused", "gate-keypad"), ("collected", "gate-keypad")]
    assert set(events[0]) >= {"id", "at", "kind", "source", "household", "slot", "error",
                              "message", "code", "suggestions"}
    assert (events[0]["household"], events[2]["suggestions"], events[3]["error"]) == (
        "24-2304", ["24-2403"], "unknown_code")
    assert last_event_id(conn) == events[-1]["id"]
    assert [e["id"] for e in gate_events(conn, events[1]["id"], limit=2)] == [
        events[2]["id"], events[3]["id"]]
    assert gate_events(conn, last_event_id(conn)) == []


def test_parcels_stored_before_carriers_read_as_confirmed_shelf_parcels(tmp_path):
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(old, target=5)
    old.executescript("""
        INSERT INTO households (id, building, room, updated_at) VALUES ('24-2304', 24, '2304', 'x');
        INSERT INTO slots (code, shelf, position, capacity) VALUES ('A-12', 'A', 12, 4);
        INSERT INTO parcels (label, ref, household_id, slot_code, status, checked_in_at)
            VALUES ('DS1:24-2304:SF1:KX3M7Q2B9HZA', 'SF1', '24-2304', 'A-12', 'waiting',
                    '2026-11-01T08:00:00.000+00:00');
    """)
    old.close()
    conn = connect(tmp_path / "old.db")
    from kiosk.store import SqliteUnitOfWork

    [parcel] = SqliteUnitOfWork(conn).parcels.waiting_for("24-2304")
    assert (parcel.kind, parcel.room_confirmed) == ("shelf", True)


def test_a_shelf_label_for_an_unknown_room_suggests_the_near_ones(uow, rules, community, clock):
    label = make_label(community.label_secret, HouseholdId.parse("15-1250")).encode()
    result = act_on_payload(label, uow, rules, clock)
    assert (result.error, result.suggestions, result.code) == ("unknown_household",
                                                               ("15-1205",), None)


def test_the_kiosk_loop_passes_the_symbology_through(conn, uow, rules, clock):
    from kiosk.ports import Symbol
    from kiosk.scanner import Scanner

    class Code128Decoder:
        def decode(self, frame):
            return [Symbol(frame, "CODE128")]

    class Quiet:
        def show(self, states): pass
        def confirm(self): pass
        def warn(self): pass
        def close(self): pass

    scanner = Scanner(source=None, decoder=Code128Decoder(), lights=Quiet(), buzzer=Quiet(),
                      uow=uow, rules=rules, clock=clock, debounce_s=2)
    [result] = scanner.process_frame(WAYBILL.encode())
    assert (result.action, result.code) == ("needs_room", WAYBILL)
    assert details(conn, "needs_room")[0]["symbology"] == "CODE128"
