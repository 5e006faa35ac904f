"""The slot buttons on gpiozero's mock pins: single pins, and a 74HC165 chain shifted out bit by
bit like the chip does. Presses are decided by the order of pin changes, never by timing."""

from __future__ import annotations

import pytest
from conftest import PATIENCE_S, wait_for
from gpiozero.pins.mock import MockFactory

from hardware.buttons import (
    GpioSlotButtons,
    ShelfButtons,
    ShiftRegisterSlotButtons,
    build_buttons,
)
from hardware.sim import Chain165
from kiosk.config import Shelf
from kiosk.domain import Slot
from kiosk.errors import ConfigError

BUTTON_PINS = {"A-01": 4, "A-02": 7, "A-03": 8}
DATA, CLOCK, LOAD = 9, 11, 10
CLOCK_PROBE, LOAD_PROBE = 23, 24  # mock inputs wired to the clock and load outputs


@pytest.fixture
def closing():
    """Close whatever buttons a test opens, even when it fails (a chain's thread must stop)."""
    opened = []
    yield opened.append
    for buttons in opened:
        buttons.close()


def sim_chain(factory: MockFactory, length: int = 16) -> Chain165:
    """The simulated chain on this file's pins (``hardware.sim``)."""
    return Chain165(factory, data=DATA, clock=CLOCK, load=LOAD, clock_probe=CLOCK_PROBE,
                       load_probe=LOAD_PROBE, length=length)


def shelf_a(**button_of: int) -> Shelf:
    slots = tuple(Slot(code, "A", i, 4, button=code in button_of)
                  for i, code in enumerate(BUTTON_PINS))
    return Shelf("A", "Gate shelf A", "gpio", slots, {"A-01": 5, "A-02": 6, "A-03": 26},
                 buttons="gpio", button_of=dict(button_of))


# One pin per slot ------------------------------------------------------------------------------

def test_a_press_is_noted_once_in_order(factory, closing):
    buttons = GpioSlotButtons(BUTTON_PINS, pin_factory=factory)
    closing(buttons)
    assert buttons.presses() == []
    for code in ("A-02", "A-01", "A-02"):
        factory.pin(BUTTON_PINS[code]).drive_low()  # pressed: the button pulls it to ground
        factory.pin(BUTTON_PINS[code]).drive_high()  # released
    assert buttons.presses() == ["A-02", "A-01", "A-02"]
    assert buttons.presses() == []  # taken


def test_a_button_held_down_is_one_press(factory, closing):
    buttons = GpioSlotButtons(BUTTON_PINS, pin_factory=factory)
    closing(buttons)
    pin = factory.pin(BUTTON_PINS["A-03"])
    pin.drive_low()
    pin.drive_low()
    assert buttons.presses() == ["A-03"]
    pin.drive_high()
    assert buttons.presses() == []


def test_the_pins_are_pulled_up(factory, closing):
    buttons = GpioSlotButtons(BUTTON_PINS, pin_factory=factory)
    closing(buttons)
    assert all(factory.pin(pin).pull == "up" for pin in BUTTON_PINS.values())
    assert buttons.presses() == []  # idle high: nothing pressed


def test_close_releases_the_pins(factory):
    buttons = GpioSlotButtons(BUTTON_PINS, pin_factory=factory)
    buttons.close()
    again = GpioSlotButtons(BUTTON_PINS, pin_factory=factory)  # free to claim again
    again.close()


# A 74HC165 chain -------------------------------------------------------------------------------

def test_chain_reads_each_position_where_the_chip_puts_it(factory, closing):
    chain = sim_chain(factory)
    # chip 1 wired back to front, as a person might
    button_of = {f"B-{i + 1:02d}": i if i < 8 else 23 - i for i in range(16)}
    buttons = ShiftRegisterSlotButtons(button_of, DATA, CLOCK, LOAD, pin_factory=factory)
    closing(buttons)
    for position in (0, 7, 9, 15):
        chain.inputs[position] = 0
        assert buttons.read_chain() == {position}
        chain.inputs[position] = 1
    assert buttons.read_chain() == set()


def test_chain_notes_a_press_once_it_is_steady(factory, closing):
    chain = sim_chain(factory)
    buttons = ShiftRegisterSlotButtons({"B-01": 0, "B-02": 1, "B-12": 11}, DATA, CLOCK, LOAD,
                                       pin_factory=factory, poll_s=0.001)
    closing(buttons)
    chain.inputs[11] = 0
    wait_for(lambda: buttons.presses() == ["B-12"])
    assert chain.wait_reads(5, PATIENCE_S)  # held down: still one press
    assert buttons.presses() == []
    chain.inputs[11] = 1
    chain.inputs[0] = 0  # B-12 released and B-01 pressed
    wait_for(lambda: buttons.presses() == ["B-01"])


def test_chain_ignores_a_bounce_shorter_than_its_debounce(factory, closing):
    chain = sim_chain(factory)
    buttons = ShiftRegisterSlotButtons({"B-01": 0}, DATA, CLOCK, LOAD, pin_factory=factory)
    closing(buttons)
    buttons.close()  # read the chain by hand, without the thread: one read at a time
    buttons = ShiftRegisterSlotButtons({"B-01": 0}, DATA, CLOCK, LOAD, pin_factory=factory,
                                       poll_s=3600)
    closing(buttons)
    for low in (True, False, True, True, False):  # never low three reads in a row
        chain.inputs[0] = 0 if low else 1
        buttons._debounce(buttons.read_chain())
    assert buttons.presses() == []
    for _ in range(3):
        chain.inputs[0] = 0
        buttons._debounce(buttons.read_chain())
    assert buttons.presses() == ["B-01"]


def test_chain_reading_every_button_down_is_a_fault_not_presses(factory, closing, caplog):
    chain = sim_chain(factory)
    buttons = ShiftRegisterSlotButtons({"B-01": 0, "B-02": 1}, DATA, CLOCK, LOAD,
                                       pin_factory=factory, poll_s=3600)
    closing(buttons)
    chain.inputs = [0] * 16  # the data line held low: every input reads pressed
    for _ in range(5):
        buttons._debounce(buttons.read_chain())
    assert buttons.presses() == []
    assert [r.message for r in caplog.records].count(
        "the 74HC165 chain reads every button pressed: check its power, its pull-ups and its "
        "data line; ignoring it until it reads again") == 1


def test_chain_refuses_two_slots_on_one_input(factory):
    with pytest.raises(ValueError, match="distinct"):
        ShiftRegisterSlotButtons({"B-01": 3, "B-02": 3}, DATA, CLOCK, LOAD, pin_factory=factory)


# All shelves -----------------------------------------------------------------------------------

def test_no_button_configured_claims_no_pin(factory):
    buttons = build_buttons([shelf_a()], pin_factory=factory)
    assert buttons.slots == frozenset() and buttons.presses() == []
    buttons.close()
    assert not factory.pins  # nothing claimed


def test_build_buttons_joins_the_shelves(factory, closing):
    chain = sim_chain(factory)
    b_slots = (Slot("B-01", "B", 3, 3, button=True),)
    shelf_b = Shelf("B", "Gate shelf B", "74hc595", b_slots, {"B-01": 0},
                    {"data": 17, "clock": 27, "latch": 22}, buttons="74hc165",
                    button_of={"B-01": 0}, button_pins={"data": DATA, "clock": CLOCK,
                                                        "load": LOAD})
    buttons = build_buttons([shelf_a(**{"A-01": 4}), shelf_b], pin_factory=factory)
    closing(buttons)
    assert buttons.slots == {"A-01", "B-01"}
    factory.pin(4).drive_low()
    chain.inputs[0] = 0
    seen: list[str] = []
    wait_for(lambda: seen.extend(buttons.presses()) or set(seen) == {"A-01", "B-01"})


def test_build_buttons_refuses_an_unknown_kind_and_frees_the_pins(factory):
    bad = Shelf("C", "C", "gpio", (Slot("C-01", "C", 0, 1, button=True),), {"C-01": 12},
                buttons="74hc166", button_of={"C-01": 13})
    with pytest.raises(ConfigError, match="buttons = '74hc166': allowed values are"):
        build_buttons([shelf_a(**{"A-01": 4}), bad], pin_factory=factory)
    GpioSlotButtons({"A-01": 4}, pin_factory=factory).close()  # released again


def test_shelf_buttons_refuses_a_slot_with_two_buttons(factory, closing):
    one = GpioSlotButtons({"A-01": 4}, pin_factory=factory)
    two = GpioSlotButtons({"A-01": 7}, pin_factory=factory)
    closing(one)
    closing(two)
    with pytest.raises(ValueError, match="A-01 has two buttons"):
        ShelfButtons([one, two])
