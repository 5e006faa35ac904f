from __future__ import annotations

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import ForgedLabel, GarbageLabel
from kiosk.labels import (
    MAX_PAYLOAD_BYTES,
    ParcelLabel,
    PickupPass,
    make_label,
    make_pass,
    parse_payload,
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


def test_pickup_passes_round_trip_and_are_signed():
    payload = make_pass(SECRET, "012345")
    assert parse_payload(payload.encode(), SECRET) == PickupPass("012345", payload)
    with pytest.raises(ForgedLabel):
        parse_payload(payload.replace("012345", "012346").encode(), SECRET)


def test_refs_outside_the_alphabet_are_refused():
    with pytest.raises(ValueError, match="parcel reference"):
        make_label(SECRET, HouseholdId.parse("24-2304"), "no spaces allowed")
