from __future__ import annotations

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import ForgedLabel, GarbageLabel
from kiosk.labels import (
    MAX_PAYLOAD_BYTES,
    ParcelLabel,
    make_label,
    make_pass,
    parse_payload,
    pass_is_for,
)

SECRET = b"a-community-secret-of-some-length"


def test_a_label_round_trips_and_is_short_alphanumeric_ascii():
    payload = make_label(SECRET, HouseholdId.parse("24-2304"), "sf1234567")
    assert payload.startswith("DS1:24-2304:SF1234567:")
    assert len(payload) <= 48
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    parsed = parse_payload(payload.encode(), SECRET)
    assert parsed == ParcelLabel(HouseholdId(24, "2304"), "SF1234567", payload)


def test_a_label_without_ref_gets_a_fresh_one():
    a = make_label(SECRET, HouseholdId.parse("24-2304"))
    b = make_label(SECRET, HouseholdId.parse("24-2304"))
    assert a != b


def test_changing_the_room_breaks_the_signature():
    payload = make_label(SECRET, HouseholdId.parse("24-2304"), "R1")
    tampered = payload.replace("24-2304", "24-2403")
    with pytest.raises(ForgedLabel):
        parse_payload(tampered.encode(), SECRET)


def test_a_label_from_another_community_is_refused():
    payload = make_label(b"another-community-secret-value", HouseholdId.parse("24-2304"))
    with pytest.raises(ForgedLabel):
        parse_payload(payload.encode(), SECRET)


@pytest.mark.parametrize("data", [
    b"https://example.com/coupon",
    b"\xff\xfe\x00garbage",
    b"DS1",
    b"x" * (MAX_PAYLOAD_BYTES + 1),
    "DS1:24-2304:中文:AAAAAAAAAAAA".encode(),
])
def test_garbage_is_refused_with_a_clear_error(data):
    with pytest.raises(GarbageLabel, match="not a shelf|not plain ASCII|longer"):
        parse_payload(data, SECRET)


def test_a_damaged_shelf_code_is_refused_as_forged():
    with pytest.raises(ForgedLabel):
        parse_payload(b"DS1:24-2304:R1:short", SECRET)


def test_pickup_passes_name_their_code_row_and_are_signed_for_their_household():
    payload = make_pass(SECRET, "24-2304", 1042, "012345")
    assert payload.startswith("DP2:1042:012345:") and "2304" not in payload
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    longest = make_pass(SECRET, "999-ABCDEF", 999_999_999_999, "999999")
    assert len(longest) <= MAX_PAYLOAD_BYTES
    parsed = parse_payload(payload.encode(), SECRET)
    assert (parsed.code_id, parsed.code, parsed.payload) == (1042, "012345", payload)
    assert pass_is_for(SECRET, parsed, "24-2304")
    assert not pass_is_for(SECRET, parsed, "24-2403")
    assert not pass_is_for(b"another-community-secret-value", parsed, "24-2304")
    for tampered in (payload.replace("012345", "012346"), payload.replace("1042", "1043")):
        assert not pass_is_for(SECRET, parse_payload(tampered.encode(), SECRET), "24-2304")


def test_a_damaged_pass_is_refused_as_forged():
    with pytest.raises(ForgedLabel):
        parse_payload(b"DP2:1042:01234:AAAAAAAAAAAA", SECRET)


def test_refs_outside_the_alphabet_are_refused():
    with pytest.raises(ValueError, match="parcel reference"):
        make_label(SECRET, HouseholdId.parse("24-2304"), "no spaces allowed")


def test_a_label_is_printed_for_the_household_in_its_canonical_form():
    payload = make_label(SECRET, HouseholdId(24, "02304"), "SF1")
    assert payload.startswith("DS1:24-2304:SF1:")
    assert parse_payload(payload.encode(), SECRET).household == HouseholdId(24, "2304")
