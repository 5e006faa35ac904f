from __future__ import annotations

import pytest

from kiosk.domain import (
    Household,
    HouseholdId,
    RoomVerdict,
    Slot,
    SlotLoad,
    TokenScope,
    carrier_code,
    check_typed_room,
    choose_slot,
    confusable,
    confusable_with,
    format_buildings,
    join_phones,
    mask_household,
    mask_path,
    mask_phone,
    parse_buildings,
    parse_phone_tail,
    split_phones,
)
from kiosk.errors import InvalidPhoneTail, UnknownHousehold


def test_household_ids_are_exact_2304_is_not_2403():
    assert HouseholdId.parse("24-2304") != HouseholdId.parse("24-2403")
    assert HouseholdId.parse(" 24-2304 ") == HouseholdId(24, "2304")
    assert str(HouseholdId.parse("3-b101")) == "3-B101"


@pytest.mark.parametrize("text", ["24-2304", "24栋2304室", "24/2304", "24 2304", "24号楼2304",
                                  "24幢-2304", "24#2304", "２４－２３０４", "24栋 2304 号",
                                  "024-02304"])
def test_a_room_is_read_as_people_type_it(text):
    assert HouseholdId.parse(text) == HouseholdId(24, "2304")


@pytest.mark.parametrize("text", ["2304", "242304", "24-", "24栋", "-2304", "24-23 04", "x-1",
                                  "24/23/04", "24号2304", ""])
def test_malformed_household_ids_are_refused(text):
    with pytest.raises(UnknownHousehold, match="not a household: expected building-room, e.g. "
                       "24-2304, 24栋2304室 or 24/2304") as refused:
        HouseholdId.parse(text)
    assert (refused.value.typed, refused.value.given) == (text, None)


def test_masking_hides_the_end_of_the_room():
    assert mask_household("24-2304") == "24-23**"
    assert mask_household("3-101") == "3-1**"
    assert mask_household("5-7") == "5-7"  # nothing sensible to hide in one character
    assert mask_household("not an id") == "not an id"
    assert mask_path("/households/24-2304") == "/households/24-23**"
    assert mask_path("/parcels/12/move") == "/parcels/12/move"


def test_building_ranges_round_trip():
    assert parse_buildings("1-3, 5,29-30") == {1, 2, 3, 5, 29, 30}
    assert parse_buildings([4, 2]) == {2, 4}
    assert parse_buildings("") == frozenset()
    assert format_buildings({1, 2, 3, 5, 29, 30}) == "1-3,5,29-30"
    for bad in ("3-1", "a-b", "1,,x"):
        with pytest.raises(ValueError):
            parse_buildings(bad)


OVERFLOW = Slot("FLOOR", "floor", 99, 10**6, overflow=True)
SLOTS = [
    Slot("A-01", "A", 0, 2, frozenset({24})),
    Slot("A-02", "A", 1, 2, frozenset({24})),
    Slot("A-03", "A", 2, 2, frozenset({25})),
    Slot("B-01", "B", 3, 3),  # any building
]


def test_a_new_household_gets_an_empty_zoned_slot():
    load = {"A-01": SlotLoad(1, frozenset({"24-2403"}))}
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, load, OVERFLOW).code == "A-02"


def test_the_same_households_parcels_stay_together_while_there_is_room():
    load = {"A-02": SlotLoad(1, frozenset({"24-2304"}))}
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, load, OVERFLOW).code == "A-02"
    full = {"A-02": SlotLoad(2, frozenset({"24-2304"}))}
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, full, OVERFLOW).code == "A-01"


def test_zoned_slots_come_before_any_building_slots_then_overflow():
    full = {"A-01": SlotLoad(2, frozenset({"24-1"})), "A-02": SlotLoad(2, frozenset({"24-2"}))}
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, full, OVERFLOW).code == "B-01"
    full["B-01"] = SlotLoad(3, frozenset({"7-101"}))
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, full, OVERFLOW).code == "FLOOR"


def test_a_slot_zoned_for_another_building_is_never_used():
    load = {"B-01": SlotLoad(3, frozenset({"7-101"}))}
    slot = choose_slot(HouseholdId(26, "101"), SLOTS, load, OVERFLOW)
    assert slot.code == "FLOOR"


def test_an_empty_any_building_slot_beats_sharing_with_another_household():
    load = {"A-01": SlotLoad(1, frozenset({"24-2403"})), "A-02": SlotLoad(1, frozenset({"24-1"}))}
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, load, OVERFLOW).code == "B-01"
    load["B-01"] = SlotLoad(1, frozenset({"7-101"}))
    assert choose_slot(HouseholdId(24, "2304"), SLOTS, load, OVERFLOW).code == "A-01"


# --- rooms easy to confuse, phone tails and the typed-room rule (the gate, issue 7) ---------

@pytest.mark.parametrize("a, b", [("2304", "2403"), ("1502", "1205"), ("301", "310"),
                                  ("2304", "2305"), ("B101", "B110")])
def test_swapped_or_one_off_rooms_are_confusable_both_ways(a, b):
    assert confusable(a, b) and confusable(b, a)


@pytest.mark.parametrize("a, b", [("2304", "2304"), ("2304", "4302x"), ("2304", "3402"),
                                  ("2304", "2415"), ("301", "3010"), ("1502", "2051")])
def test_the_same_room_or_rooms_further_apart_are_not_confusable(a, b):
    assert not confusable(a, b)


def hh(text: str, phone: str = "") -> Household:
    return Household(HouseholdId.parse(text), phone=phone)


BUILDING_24 = [hh("24-2304", "13800002304"), hh("24-2403", "13800002403;13911112222"),
               hh("24-501", "13922215229"), hh("24-2001"), hh("24-2003", "13992891895"),
               hh("25-2304", "13800009999")]


def test_confusable_neighbours_are_in_the_same_building_only():
    ids = [h.id for h in BUILDING_24]
    assert confusable_with(HouseholdId(24, "2304"), ids) == [HouseholdId(24, "2403")]
    assert confusable_with(HouseholdId(24, "2340"), ids) == [HouseholdId(24, "2304")]
    assert confusable_with(HouseholdId(24, "501"), ids) == []
    assert confusable_with(HouseholdId(25, "2403"), ids) == [HouseholdId(25, "2304")]


def test_a_household_has_the_tails_of_all_its_phones():
    assert BUILDING_24[1].phone_tails == {"2403", "2222"}
    assert hh("1-1", "+86 139-1111-2222； 0755-8765").phone_tails == {"2222", "8765"}
    assert hh("1-1", "110").phone_tails == frozenset()
    assert split_phones(" 13800002304 ;; 13911112222;") == ("13800002304", "13911112222")
    assert join_phones("13800002304 ；13911112222 ") == "13800002304;13911112222"
    assert mask_phone("13800002304;13911112222") == "138****2304;139****2222"


@pytest.mark.parametrize("typed, tail, keep, verdict, suggestions", [
    ("24-2340", None, False, RoomVerdict.UNKNOWN, ("24-2304",)),  # typo of an existing room
    ("24-9999", "2304", False, RoomVerdict.UNKNOWN, ()),  # nothing near: nothing suggested
    ("24-501", None, False, RoomVerdict.CONFIRMED, ()),  # nobody to mix it up with
    ("24-2304", None, False, RoomVerdict.ASK_PHONE, ("24-2403",)),
    ("24-2304", "2304", False, RoomVerdict.CONFIRMED, ()),
    ("24-2304", "2403", False, RoomVerdict.MISMATCH, ("24-2403",)),
    ("24-2304", "2222", False, RoomVerdict.MISMATCH, ("24-2403",)),  # 2403's second phone
    ("24-2403", "2222", False, RoomVerdict.CONFIRMED, ()),
    ("24-2304", "9999", False, RoomVerdict.UNCONFIRMED, ()),  # 25-2304's: another building
    ("24-501", "1234", False, RoomVerdict.UNCONFIRMED, ()),
    ("24-2001", None, False, RoomVerdict.ASK_PHONE, ("24-2003",)),
    ("24-2001", "1895", False, RoomVerdict.MISMATCH, ("24-2003",)),  # 2001 has no phone
    ("24-2304", None, True, RoomVerdict.UNCONFIRMED, ()),  # the courier insists: staff check
    ("24-2304", "2403", True, RoomVerdict.UNCONFIRMED, ()),
    ("24-2304", "2304", True, RoomVerdict.CONFIRMED, ()),
])
def test_a_typed_room_is_checked_against_its_neighbours_and_the_phone_tail(typed, tail, keep,
                                                                          verdict, suggestions):
    check = check_typed_room(HouseholdId.parse(typed), BUILDING_24, tail, keep_room=keep)
    assert (check.verdict, check.suggestions) == (verdict, suggestions)
    assert check.verdict.checks_in == (verdict in (RoomVerdict.CONFIRMED,
                                                   RoomVerdict.UNCONFIRMED))


@pytest.mark.parametrize("typed, tail, keep, verdict", [
    ("24-2304", None, False, RoomVerdict.CONFIRMED),  # the waybill and the announcement agree
    ("24-2304", "9999", False, RoomVerdict.CONFIRMED),  # a phone not in the list: still agree
    ("24-2304", "2304", False, RoomVerdict.CONFIRMED),
    ("24-2304", "2403", False, RoomVerdict.MISMATCH),  # the neighbour's phone: ask
    ("24-2304", "2403", True, RoomVerdict.UNCONFIRMED),  # ... and insisting leaves it open
])
def test_a_typed_room_that_was_announced_is_settled_by_the_announcement(typed, tail, keep,
                                                                        verdict):
    check = check_typed_room(HouseholdId.parse(typed), BUILDING_24, tail, keep_room=keep,
                             announced=True)
    assert check.verdict is verdict


def test_a_token_scope_covers_its_buildings_and_its_carriers_tracking_numbers():
    anything = TokenScope()
    assert anything.covers(HouseholdId(2, "902"), None) and anything.describe() == "every building"
    sf_in_24 = TokenScope(frozenset({24, 25}), ("SF", "JD"))
    assert sf_in_24.covers(HouseholdId(24, "2304"), "SF1234567890")
    assert sf_in_24.covers(HouseholdId(25, "101"), "jd0001")
    assert not sf_in_24.covers(HouseholdId(2, "902"), "SF1234567890")  # another building
    assert not sf_in_24.covers(HouseholdId(24, "2304"), "YT1234567890")  # another carrier
    assert not sf_in_24.covers(HouseholdId(24, "2304"), None)  # the shelf's own label
    assert sf_in_24.describe() == "buildings 24-25; tracking numbers SF…, JD…"


@pytest.mark.parametrize("text", ["123", "12345", "12a4", "１２３４", "12 4"])
def test_a_phone_tail_is_four_digits(text):
    with pytest.raises(InvalidPhoneTail, match="last 4 digits"):
        parse_phone_tail(text)


def test_an_empty_phone_tail_is_none_and_four_digits_are_kept():
    assert parse_phone_tail(None) is parse_phone_tail("  ") is None
    assert parse_phone_tail(" 0042 ") == "0042"


@pytest.mark.parametrize("text, code", [
    ("SF1234567890", "SF1234567890"), (" jd0001234567890-1-1 ", "JD0001234567890-1-1"),
    ("773012345678901", "773012345678901"), ("ABC12", None), ("X" * 41, None),
    ("https://example.com/coupon", None), ("DS1:24-2304:SF1:KX3M7Q2B9HZA", None),
    ("SF 1234 5678", None), ("快递1234567", None),
])
def test_carrier_codes_are_tracking_numbers_in_upper_case(text, code):
    assert carrier_code(text) == code
