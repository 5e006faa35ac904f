"""Check-in and pickup against a real SQLite file of the sample community."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import ShelfError
from kiosk.labels import make_label, make_pass
from kiosk.services import ScanResult, act_on_payload, pick_up
from kiosk.store import iso


def label(config, household, ref=None) -> bytes:
    return make_label(config.label_secret, HouseholdId.parse(household), ref).encode()


def count(conn, table, where="1"):
    return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def outbox_payloads(conn, household):
    rows = conn.execute("SELECT kind, payload FROM outbox WHERE household_id = ? ORDER BY id",
                        (household,)).fetchall()
    return [(r["kind"], json.loads(r["payload"])) for r in rows]


def test_check_in_records_parcel_event_notice_and_light_together(conn, community, clock):
    result = act_on_payload(label(community, "24-2304", "SF1"), conn, community, clock)
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


def test_the_same_label_again_relights_the_slot_and_creates_nothing(conn, community, clock):
    payload = label(community, "24-2304")
    first = act_on_payload(payload, conn, community, clock)
    clock.advance(40)  # the first light has gone out
    again = act_on_payload(payload, conn, community, clock)
    assert (again.action, again.slot, again.parcel, again.repeat) == (
        "checkin", first.slot, first.parcel, True)
    assert count(conn, "parcels") == 1 and count(conn, "outbox") == 1
    assert count(conn, "events", "kind = 'rescanned'") == 1
    assert count(conn, "signals", f"until > '{iso(clock.now())}'") == 1


def test_2304_and_2403_get_their_own_slots_and_their_own_codes(conn, community, clock):
    a = act_on_payload(label(community, "24-2304"), conn, community, clock)
    b = act_on_payload(label(community, "24-2403"), conn, community, clock)
    assert a.slot != b.slot
    code_a = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    code_b = outbox_payloads(conn, "24-2403")[0][1]["pickup_code"]
    assert code_a != code_b
    result = pick_up(code_a, conn, community, clock)
    assert result.household == "24-2304" and result.slots == (a.slot,)
    assert count(conn, "parcels", "household_id = '24-2403' AND status = 'waiting'") == 1


def test_a_households_parcels_share_a_slot_and_one_code(conn, community, clock):
    first = act_on_payload(label(community, "24-2304"), conn, community, clock)
    second = act_on_payload(label(community, "24-2304"), conn, community, clock)
    assert second.slot == first.slot and second.parcel != first.parcel
    codes = {p["pickup_code"] for _, p in outbox_payloads(conn, "24-2304")}
    assert len(codes) == 1
    result = act_on_payload(make_pass(community.label_secret, codes.pop()).encode(), conn,
                            community, clock)
    assert result.action == "pickup" and set(result.parcels) == {first.parcel, second.parcel}
    assert count(conn, "parcels", "status = 'waiting'") == 0
    assert count(conn, "events", "kind = 'collected'") == 2
    blink = conn.execute("SELECT mode FROM signals WHERE slot_code = ?", (first.slot,)).fetchone()
    assert blink["mode"] == "blink"


def test_a_used_code_does_not_open_again_and_the_next_parcel_gets_a_new_one(conn, community,
                                                                            clock):
    act_on_payload(label(community, "24-2304"), conn, community, clock)
    code = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    pick_up(code, conn, community, clock)
    again = act_on_payload(make_pass(community.label_secret, code).encode(), conn, community,
                           clock)
    assert (again.action, again.error) == ("rejected", "unknown_code")
    act_on_payload(label(community, "24-2304"), conn, community, clock)
    assert outbox_payloads(conn, "24-2304")[1][1]["pickup_code"] != code


def test_a_collected_parcels_label_is_refused(conn, community, clock):
    payload = label(community, "24-2304")
    act_on_payload(payload, conn, community, clock)
    pick_up(outbox_payloads(conn, "24-2304")[0][1]["pickup_code"], conn, community, clock)
    result = act_on_payload(payload, conn, community, clock)
    assert (result.action, result.error) == ("rejected", "already_collected")
    assert count(conn, "parcels") == 1


@pytest.mark.parametrize("payload, error", [
    (b"https://example.com/coupon", "garbage"),
    (b"\x00\xff", "garbage"),
    (make_label(b"someone-elses-secret-key", HouseholdId(24, "2304")).encode(), "forged"),
])
def test_bad_scans_are_refused_recorded_and_change_nothing_else(conn, community, clock,
                                                                payload, error):
    result = act_on_payload(payload, conn, community, clock)
    assert (result.action, result.error) == ("rejected", error)
    assert result.message
    assert count(conn, "parcels") == count(conn, "outbox") == count(conn, "signals") == 0
    assert count(conn, "events", f"kind = 'scan_refused' AND detail LIKE '%{error}%'") == 1


def test_a_signed_label_for_a_household_not_in_the_list_is_refused(conn, community, clock):
    result = act_on_payload(label(community, "24-9999"), conn, community, clock)
    assert (result.action, result.error) == ("rejected", "unknown_household")
    assert "24-99** is not in the household list" in result.message  # masked: screen, logs
    assert count(conn, "parcels") == 0


def test_a_household_under_observation_gets_door_delivery_not_a_code(conn, community, clock):
    household = conn.execute(
        "SELECT id FROM households WHERE under_observation = 1 AND email != ''").fetchone()["id"]
    result = act_on_payload(label(community, household), conn, community, clock)
    assert result.action == "checkin" and result.door_delivery
    [(kind, payload)] = outbox_payloads(conn, household)
    assert kind == "door_delivery"
    assert payload["pickup_code"] is None and payload["pickup_qr"] is None
    assert count(conn, "pickup_codes") == 0


def test_a_household_without_contacts_is_recorded_as_unreachable(conn, community, clock):
    household = conn.execute("SELECT id FROM households WHERE email = ''").fetchone()["id"]
    result = act_on_payload(label(community, household), conn, community, clock)
    assert result.action == "checkin"
    assert count(conn, "outbox") == 0
    assert count(conn, "events", "kind = 'notice_unreachable'") == 1


def test_when_the_zone_is_full_parcels_go_to_the_overflow_place(conn, community, clock):
    zone = [s for s in community.slots if 24 in s.buildings]
    capacity = sum(s.capacity for s in zone)
    any_building = [s for s in community.slots if not s.buildings]
    capacity += sum(s.capacity for s in any_building)
    results = [act_on_payload(label(community, "24-2304"), conn, community, clock)
               for _ in range(capacity + 1)]
    assert {r.slot for r in results[:capacity]} == {s.code for s in zone + any_building}
    assert results[-1].slot == "FLOOR"
    assert count(conn, "signals", "slot_code = 'FLOOR'") == 0  # the floor has no LED


def test_wrong_codes_are_throttled(conn, community, clock):
    act_on_payload(label(community, "24-2304"), conn, community, clock)
    right = outbox_payloads(conn, "24-2304")[0][1]["pickup_code"]
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(community.pickup_max_failures):
        assert act_on_payload_code(conn, community, clock, wrong).error == "unknown_code"
        clock.advance(10)
    blocked = act_on_payload_code(conn, community, clock, right)
    assert blocked.error == "throttled" and "try again in" in blocked.message
    assert count(conn, "parcels", "status = 'waiting'") == 1
    clock.advance(community.pickup_window_s)
    assert act_on_payload_code(conn, community, clock, right).action == "pickup"


def act_on_payload_code(conn, community, clock, code):
    """Type a code at the keypad; a refusal comes back as a result, as on the screen."""
    try:
        return pick_up(code, conn, community, clock)
    except ShelfError as exc:
        return ScanResult("rejected", error=exc.code, message=str(exc))


def test_a_failure_inside_check_in_leaves_nothing_half_done(conn, community, clock):
    conn.execute("CREATE TEMP TRIGGER break_outbox BEFORE INSERT ON outbox "
                 "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):
        act_on_payload(label(community, "24-2304"), conn, community, clock)
    for table in ("parcels", "pickup_codes", "signals", "outbox"):
        assert count(conn, table) == 0, table
    assert count(conn, "events", "kind = 'checked_in'") == 0


def test_events_are_append_only(conn, community, clock):
    act_on_payload(label(community, "24-2304"), conn, community, clock)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
