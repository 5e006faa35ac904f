"""Check-in and pickup against a real SQLite file of the sample community."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import PickupRefused, ShelfError
from kiosk.labels import make_label, make_pass
from kiosk.outcome import Outcome
from kiosk.services import act_on_code, act_on_payload, pick_up
from kiosk.store import iso


def label(config, household, ref=None) -> bytes:
    return make_label(config.label_secret, HouseholdId.parse(household), ref).encode()


def count(conn, table, where="1"):
    return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def outbox_payloads(conn, household):
    rows = conn.execute("SELECT kind, payload FROM outbox WHERE household_id = ? ORDER BY id",
                        (household,)).fetchall()
    return [(r["kind"], json.loads(r["payload"])) for r in rows]


def test_check_in_records_parcel_event_notice_and_light_together(conn, uow, rules, community,
                                                                 clock):
    result = act_on_payload(label(community, "24-2304", "SF1"), uow, rules, clock)
    assert (result.action, result.household, result.slot) == ("checkin", "24-2304", "A-12")
    parcel = conn.execute("SELECT * FROM parcels WHERE id = ?", (result.parcel,)).fetchone()
    assert (parcel["household_id"], parcel["slot_code"], parcel["status"], parcel["ref"]) == (
        "24-2304", "A-12", "waiting", "SF1")
    event = conn.execute("SELECT * FROM events WHERE parcel_id = ?", (result.parcel,)).fetchone()
    assert (event["kind"], event["actor"], event["slot_code"]) == ("checked_in", "courier@kiosk",
                                                                   "A-12")
    [(kind, payload)] = outbox_payloads(conn, "24-2304")
    assert kind == "pickup_ready"
    assert payload["slot"] == "A-12" and payload["parcel_ref"] == "SF1"
    assert len(payload["pickup_code"]) == 6
    assert payload["pickup_qr"] == make_pass(community.label_secret, payload["pickup_code"])
    signal = conn.execute("SELECT * FROM signals").fetchone()
    assert (signal["slot_code"], signal["mode"]) == ("A-12", "on")


def test_the_same_label_again_relights_the_slot_and_creates_nothing(conn, uow, rules, community,
                                                                    clock):
    payload = label(community, "24-2304")
    first = act_on_payload(payload, uow, rules, clock)
    clock.advance(40)  # the first light has gone out
    again = act_on_payload(payload, uow, rules, clock)
    assert (again.action, again.slot, again.parcel, again.repeat) == (
        "checkin", first.slot, first.parcel, True)
    assert count(conn, "parcels") == 1 and count(conn, "outbox") == 1
    assert count(conn, "events", "kind = 'rescanned'") == 1
    assert count(conn, "signals", f"until > '{iso(clock.now())}'") == 1


def test_2304_and_2403_get_their_own_slots_and_their_own_codes(conn, uow, rules, community, clock):
    a = act_on_payload(label(community, "24-2304"), uow, rules, clock)
    b = act_on_payload(label(community, "24-2403"), uow, rules, clock)
    assert a.slot != b.slot
    code_a = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    code_b = outbox_payloads(conn, "24-2403")[0][1]["pickup_code"]
    assert code_a != code_b
    result = pick_up(code_a, uow, rules, clock)
    assert result.household == "24-2304" and result.slots == (a.slot,)
    assert count(conn, "parcels", "household_id = '24-2403' AND status = 'waiting'") == 1


def test_a_households_parcels_share_a_slot_and_one_code(conn, uow, rules, community, clock):
    first = act_on_payload(label(community, "24-2304"), uow, rules, clock)
    second = act_on_payload(label(community, "24-2304"), uow, rules, clock)
    assert second.slot == first.slot and second.parcel != first.parcel
    codes = {p["pickup_code"] for _, p in outbox_payloads(conn, "24-2304")}
    assert len(codes) == 1
    result = act_on_payload(make_pass(community.label_secret, codes.pop()).encode(), uow,
                            rules, clock)
    assert result.action == "pickup" and set(result.parcels) == {first.parcel, second.parcel}
    assert count(conn, "parcels", "status = 'waiting'") == 0
    assert count(conn, "events", "kind = 'collected'") == 2
    blink = conn.execute("SELECT mode FROM signals WHERE slot_code = ?", (first.slot,)).fetchone()
    assert blink["mode"] == "blink"


def test_a_used_code_does_not_open_again_and_the_next_parcel_gets_a_new_one(conn, uow, rules,
                                                                            community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    code = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    pick_up(code, uow, rules, clock)
    again = act_on_payload(make_pass(community.label_secret, code).encode(), uow, rules, clock)
    assert (again.action, again.error) == ("rejected", "unknown_code")
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    assert outbox_payloads(conn, "24-2304")[1][1]["pickup_code"] != code


def test_a_collected_parcels_label_is_refused(conn, uow, rules, community, clock):
    payload = label(community, "24-2304")
    act_on_payload(payload, uow, rules, clock)
    pick_up(outbox_payloads(conn, "24-2304")[0][1]["pickup_code"], uow, rules, clock)
    result = act_on_payload(payload, uow, rules, clock)
    assert (result.action, result.error) == ("rejected", "already_collected")
    assert count(conn, "parcels") == 1


@pytest.mark.parametrize("payload, error", [
    (b"https://example.com/coupon", "garbage"),
    (b"\x00\xff", "garbage"),
    (make_label(b"someone-elses-secret-key", HouseholdId(24, "2304")).encode(), "forged"),
])
def test_bad_scans_are_refused_recorded_and_change_nothing_else(conn, uow, rules, community, clock,
                                                                payload, error):
    result = act_on_payload(payload, uow, rules, clock)
    assert (result.action, result.error) == ("rejected", error)
    assert result.message
    assert count(conn, "parcels") == count(conn, "outbox") == count(conn, "signals") == 0
    assert count(conn, "events", f"kind = 'scan_refused' AND detail LIKE '%{error}%'") == 1


def test_a_signed_label_for_a_household_not_in_the_list_is_refused(conn, uow, rules, community,
                                                                   clock):
    result = act_on_payload(label(community, "24-9999"), uow, rules, clock)
    assert (result.action, result.error) == ("rejected", "unknown_household")
    assert "24-99** is not in the household list" in result.message  # masked: screen, logs
    assert count(conn, "parcels") == 0


def test_a_household_under_observation_gets_door_delivery_not_a_code(conn, uow, rules, community,
                                                                     clock):
    household = conn.execute(
        "SELECT id FROM households WHERE under_observation = 1 AND email != ''").fetchone()["id"]
    result = act_on_payload(label(community, household), uow, rules, clock)
    assert result.action == "checkin" and result.door_delivery
    [(kind, payload)] = outbox_payloads(conn, household)
    assert kind == "door_delivery"
    assert payload["pickup_code"] is None and payload["pickup_qr"] is None
    assert count(conn, "pickup_codes") == 0


def test_a_household_without_contacts_is_recorded_as_unreachable(conn, uow, rules, community,
                                                                 clock):
    household = conn.execute("SELECT id FROM households WHERE email = ''").fetchone()["id"]
    result = act_on_payload(label(community, household), uow, rules, clock)
    assert result.action == "checkin"
    assert count(conn, "outbox") == 0
    assert count(conn, "events", "kind = 'notice_unreachable'") == 1


def test_when_the_zone_is_full_parcels_go_to_the_overflow_place(conn, uow, rules, community, clock):
    zone = [s for s in community.layout.slots if 24 in s.buildings]
    capacity = sum(s.capacity for s in zone)
    any_building = [s for s in community.layout.slots if not s.buildings]
    capacity += sum(s.capacity for s in any_building)
    results = [act_on_payload(label(community, "24-2304"), uow, rules, clock)
               for _ in range(capacity + 1)]
    assert {r.slot for r in results[:capacity]} == {s.code for s in zone + any_building}
    assert results[-1].slot == "FLOOR"
    assert count(conn, "signals", "slot_code = 'FLOOR'") == 0  # the floor has no LED


def test_wrong_codes_are_throttled(conn, uow, rules, community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    right = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(community.pickup.max_failures):
        assert act_on_code(wrong, uow, rules, clock).error == "unknown_code"
        clock.advance(10)
    blocked = act_on_code(right, uow, rules, clock)
    assert blocked.error == "throttled" and "try again in" in blocked.message
    assert count(conn, "parcels", "status = 'waiting'") == 1
    clock.advance(community.pickup.window_s)
    assert act_on_code(right, uow, rules, clock).action == "pickup"


def test_a_failure_inside_check_in_leaves_nothing_half_done(conn, uow, rules, community, clock):
    conn.execute("CREATE TEMP TRIGGER break_outbox BEFORE INSERT ON outbox "
                 "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    result = act_on_payload(label(community, "24-2304"), uow, rules, clock)
    assert (result.action, result.error) == ("rejected", "internal")
    for table in ("parcels", "pickup_codes", "signals", "outbox"):
        assert count(conn, table) == 0, table
    assert count(conn, "events", "kind = 'checked_in'") == 0


def test_a_refusing_use_case_raises_and_the_boundary_turns_it_into_an_outcome(uow, rules,
                                                                               clock):
    with pytest.raises(PickupRefused):
        pick_up("123456", uow, rules, clock)
    assert act_on_code("123456", uow, rules, clock).as_json() == {
        **Outcome("rejected", error="unknown_code",
                  message="this pickup code does not match any waiting parcel").as_json()}


def test_a_locked_store_is_a_refusal_that_changes_nothing(conn, uow, rules, community, clock):
    """Another process holds the write lock: the check-in waits, then refuses; nothing breaks."""
    conn.execute("PRAGMA busy_timeout = 50")
    events = count(conn, "events")
    other = sqlite3.connect(community.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result = act_on_payload(label(community, "24-2304"), uow, rules, clock)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (result.action, result.error, result.retryable) == (
        "rejected", "store_unavailable", True)
    assert "locked" in result.message
    assert count(conn, "parcels") == 0 and count(conn, "events") == events
    assert act_on_payload(label(community, "24-2304"), uow, rules, clock).action == "checkin"


def test_two_use_cases_can_share_one_transaction(conn, uow, rules, community, clock):
    from kiosk.labels import parse_payload
    from kiosk.services import check_in

    first = parse_payload(label(community, "24-2304", "A1"), community.label_secret)
    second = parse_payload(label(community, "24-9999", "B2"), community.label_secret)
    with pytest.raises(ShelfError), uow:
        check_in(first, uow, rules, clock)
        check_in(second, uow, rules, clock)  # unknown household: the whole batch rolls back
    assert count(conn, "parcels") == 0
    with uow:
        check_in(first, uow, rules, clock)
    assert count(conn, "parcels") == 1


def test_events_are_append_only(conn, uow, rules, community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
