from __future__ import annotations

import pytest

from kiosk.domain import (
    HouseholdId,
    Slot,
    SlotLoad,
    choose_slot,
    format_buildings,
    mask_household,
    parse_buildings,
)
from kiosk.errors import UnknownHousehold


def test_household_ids_are_exact_2304_is_not_2403():
    assert HouseholdId.parse("24-2304") != HouseholdId.parse("24-2403")
    assert HouseholdId.parse(" 24-2304 ") == HouseholdId(24, "2304")
    assert str(HouseholdId.parse("3-b101")) == "3-B101"


@pytest.mark.parametrize("text", ["2304", "24 2304", "24-", "-2304", "24-23 04", "x-1", ""])
def test_malformed_household_ids_are_refused(text):
    with pytest.raises(UnknownHousehold, match="not a household"):
        HouseholdId.parse(text)


def test_masking_hides_the_end_of_the_room():
    assert mask_household("24-2304") == "24-23**"
    assert mask_household("3-101") == "3-1**"
    assert mask_household("5-7") == "5-7"  # nothing sensible to hide in one character
    assert mask_household("not an id") == "not an id"


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
