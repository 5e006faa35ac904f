"""Check-in and pickup against a real SQLite file of the sample community."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import PickupRefused, ShelfError
from kiosk.labels import make_label, make_pass
from kiosk.outcome import Outcome
from kiosk.services import act_on_code, act_on_payload, pick_up
from kiosk.timefmt import iso


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
    code = conn.execute("SELECT id, code FROM pickup_codes WHERE household_id = '24-2304'"
                        ).fetchone()
    assert payload["pickup_code"] == code["code"]
    assert payload["pickup_qr"] == make_pass(community.label_secret, "24-2304", code["id"],
                                             code["code"])
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
    passes = {p["pickup_qr"] for _, p in outbox_payloads(conn, "24-2304")}
    assert len(passes) == 1
    result = act_on_payload(passes.pop().encode(), uow, rules, clock)
    assert result.action == "pickup" and set(result.parcels) == {first.parcel, second.parcel}
    assert count(conn, "parcels", "status = 'waiting'") == 0
    assert count(conn, "events", "kind = 'collected'") == 2
    blink = conn.execute("SELECT mode FROM signals WHERE slot_code = ?", (first.slot,)).fetchone()
    assert blink["mode"] == "blink"


def test_a_used_code_does_not_open_again_and_the_next_parcel_gets_a_new_one(conn, uow, rules,
                                                                            community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    facts = outbox_payloads(conn, "24-2304")[0][1]
    code = facts["pickup_code"]
    pick_up(code, uow, rules, clock)
    again = act_on_payload(facts["pickup_qr"].encode(), uow, rules, clock)
    assert (again.action, again.error) == ("rejected", "pass_used")
    assert act_on_code(code, uow, rules, clock).error == "unknown_code"
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    ready = [facts for kind, facts in outbox_payloads(conn, "24-2304") if kind == "pickup_ready"]
    assert len(ready) == 2 and ready[1]["pickup_code"] != code


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
    (make_label(b"someone-elses-secret-key", HouseholdId(24, "2304"), "SF1").encode(), "forged"),
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
        clock.advance(1)
    blocked = act_on_code(right, uow, rules, clock)
    assert blocked.error == "throttled" and "try again in" in blocked.message
    # the last wrong code made the keypad wait 5 s (kiosk.keypad; tests/test_keypad.py)
    assert blocked.retry_after_s == 4
    assert count(conn, "parcels", "status = 'waiting'") == 1
    clock.advance(4)
    assert act_on_code(right, uow, rules, clock).error == "room_required"  # a day's wrong codes
    assert act_on_code(right, uow, rules, clock, room="24-2304").action == "pickup"


def test_typed_codes_are_throttled_per_keypad_and_never_block_the_camera(conn, uow, rules,
                                                                         community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    facts = outbox_payloads(conn, "24-2304")[0][1]
    wrong = "000000" if facts["pickup_code"] != "000000" else "111111"
    for _ in range(community.pickup.max_failures):
        act_on_code(wrong, uow, rules, clock, source="keypad-1")
    assert act_on_code(facts["pickup_code"], uow, rules, clock,
                       source="keypad-1").error == "throttled"
    # The other keypad and the camera are not locked by the first keypad's guesses.
    assert act_on_code(wrong, uow, rules, clock, source="keypad-2").error == "unknown_code"
    assert act_on_payload(facts["pickup_qr"].encode(), uow, rules, clock).action == "pickup"


def forced_codes(monkeypatch, *codes):
    """Make the next pickup codes drawn these ones, in order."""
    draws = iter(codes)
    monkeypatch.setattr("kiosk.labels.new_pickup_code", lambda: next(draws))


def collect_by_pass(conn, uow, rules, community, clock, household):
    """Check a parcel in for ``household`` and collect it with its mailed QR; return the QR."""
    act_on_payload(label(community, household), uow, rules, clock)
    qr = outbox_payloads(conn, household)[-1][1]["pickup_qr"].encode()
    assert act_on_payload(qr, uow, rules, clock).action == "pickup"
    return qr


def test_a_used_code_is_not_drawn_again_within_the_reuse_window(conn, uow, rules, community,
                                                                 clock, monkeypatch):
    forced_codes(monkeypatch, "123456", "123456", "654321", "123456")
    collect_by_pass(conn, uow, rules, community, clock, "24-2304")
    clock.advance(179 * 86400)
    act_on_payload(label(community, "24-2403"), uow, rules, clock)
    assert outbox_payloads(conn, "24-2403")[0][1]["pickup_code"] == "654321"
    clock.advance(2 * 86400)  # 181 days after its use, the code may be drawn again
    act_on_payload(label(community, "2-902"), uow, rules, clock)
    assert outbox_payloads(conn, "2-902")[0][1]["pickup_code"] == "123456"


def test_an_old_pass_never_opens_another_households_parcels(conn, uow, rules, community, clock,
                                                            monkeypatch):
    forced_codes(monkeypatch, "123456", "123456")
    old_qr = collect_by_pass(conn, uow, rules, community, clock, "24-2304")
    clock.advance(181 * 86400)  # long enough for the same six digits to be drawn again
    act_on_payload(label(community, "24-2403"), uow, rules, clock)
    assert outbox_payloads(conn, "24-2403")[0][1]["pickup_code"] == "123456"
    result = act_on_payload(old_qr, uow, rules, clock)
    assert (result.action, result.error) == ("rejected", "pass_used")
    assert count(conn, "parcels", "household_id = '24-2403' AND status = 'waiting'") == 1
    fresh = outbox_payloads(conn, "24-2403")[0][1]["pickup_qr"].encode()
    assert act_on_payload(fresh, uow, rules, clock).household == "24-2403"


def test_a_used_pass_says_when_it_was_used_in_the_communitys_time(conn, uow, rules, community,
                                                                 clock):
    qr = collect_by_pass(conn, uow, rules, community, clock, "24-2304")  # 08:00 UTC
    clock.advance(3600)
    again = act_on_payload(qr, uow, rules, clock)
    assert (again.action, again.error) == ("rejected", "pass_used")
    assert again.message == "this pickup code was already used on 11-29 at 16:00"


def test_a_stale_pass_shown_again_and_again_does_not_lock_out_other_residents(
        conn, uow, rules, community, clock):
    stale = collect_by_pass(conn, uow, rules, community, clock, "24-2304")
    act_on_payload(label(community, "24-2403"), uow, rules, clock)
    for _ in range(10):
        assert act_on_payload(stale, uow, rules, clock).error == "pass_used"
    assert count(conn, "attempts") == 0  # a signed pass is not a guess: nothing counts
    fresh = outbox_payloads(conn, "24-2403")[0][1]["pickup_qr"].encode()
    result = act_on_payload(fresh, uow, rules, clock)
    assert (result.action, result.household) == ("pickup", "24-2403")
    assert act_on_code("000000", uow, rules, clock).error == "unknown_code"  # keypad not locked


def test_a_pass_signed_for_another_household_opens_nothing(conn, uow, rules, community, clock):
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    row = conn.execute("SELECT id, code FROM pickup_codes").fetchone()
    for payload in (make_pass(community.label_secret, "24-2403", row["id"], row["code"]),
                    make_pass(community.label_secret, "24-2304", row["id"] + 1, row["code"]),
                    make_pass(b"another-community-secret", "24-2304", row["id"], row["code"])):
        result = act_on_payload(payload.encode(), uow, rules, clock)
        assert (result.action, result.error) == ("rejected", "forged"), payload
    assert count(conn, "parcels", "status = 'waiting'") == 1


def legacy_pass(secret: bytes, code: str) -> bytes:
    """A pass of the first format (DP1), as mailed before passes named their code row."""
    body = f"DP1:{code}"
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}:{base64.b32encode(digest).decode()[:12]}".encode()


def test_an_old_format_pass_opens_only_while_its_code_was_drawn_once(conn, uow, rules, community,
                                                                     clock, monkeypatch):
    forced_codes(monkeypatch, "123456", "123456")
    act_on_payload(label(community, "24-2304"), uow, rules, clock)
    old = legacy_pass(community.label_secret, "123456")
    assert act_on_payload(old, uow, rules, clock).household == "24-2304"
    assert act_on_payload(old, uow, rules, clock).error == "pass_used"
    clock.advance(181 * 86400)
    act_on_payload(label(community, "24-2403"), uow, rules, clock)  # drawn again: ambiguous
    result = act_on_payload(old, uow, rules, clock)
    assert (result.action, result.error) == ("rejected", "pass_outdated")
    assert count(conn, "parcels", "household_id = '24-2403' AND status = 'waiting'") == 1


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
                  message="this pickup code does not match any waiting parcel",
                  tries_left=3).as_json()}  # the second wrong code at this keypad


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


def test_event_details_are_capped(conn, uow, clock):
    with uow:
        uow.events.add("scan_refused", "x" * 10_000, clock.now(), message="y" * 100_000)
    row = conn.execute("SELECT actor, detail FROM events ORDER BY id DESC LIMIT 1").fetchone()
    assert len(row["actor"]) == 500 and len(json.loads(row["detail"])["message"]) == 500
