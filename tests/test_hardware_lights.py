"""The slot LEDs on gpiozero's mock pins: single pins, and a 74HC595 chain read back bit by bit."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from conftest import wait_for
from gpiozero import LED
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from hardware.lights import (
    PATTERNS,
    GpioSlotLights,
    ShelfLights,
    ShiftRegisterSlotLights,
    build_lights,
)
from kiosk.config import Shelf
from kiosk.domain import Slot
from kiosk.errors import ConfigError

GPIO_PINS = {"A-01": 5, "A-02": 6, "A-03": 26}  # as in the sample community
DATA, CLOCK, LATCH = 17, 27, 22
CLOCK_PROBE, LATCH_PROBE = 23, 24  # mock inputs wired to the clock and latch outputs


@pytest.fixture
def closing():
    """Close whatever lights a test opens, even when it fails (blink threads must stop)."""
    opened = []
    yield opened.append
    for lights in opened:
        lights.close()


def shelf_a() -> Shelf:
    slots = tuple(Slot(code, "A", i, 4) for i, code in enumerate(GPIO_PINS))
    return Shelf("A", "Gate shelf A", "gpio", slots, dict(GPIO_PINS))


def shelf_b() -> Shelf:
    """16 slots on two chained 595s, wired as a person might: chip 1 back to front."""
    slots = tuple(Slot(f"B-{i + 1:02d}", "B", i, 3) for i in range(16))
    led_of = {slot.code: i if i < 8 else 23 - i for i, slot in enumerate(slots)}
    return Shelf("B", "Gate shelf B", "74hc595", slots, led_of,
                 {"data": DATA, "clock": CLOCK, "latch": LATCH})


def lit(factory: MockFactory, pins: dict[str, int]) -> set[str]:
    return {code for code, pin in pins.items() if factory.pin(pin).state}


def assert_rhythm(pin, expected: list[tuple[float, bool]]) -> None:
    """The pin's states after its first switch on are ``expected``: (seconds since the state
    before, state), each within 60 ms (timed: only in proofs)."""
    actual = pin.states[2:2 + len(expected)]  # [0]: the state at the start, [1]: switched on
    assert [s.state for s in actual] == [state for _, state in expected]
    for state, (seconds, _) in zip(actual, expected, strict=True):
        assert abs(state.timestamp - seconds) < 0.06, actual


class Chain595:
    """Two 74HC595s made of mock pins: shift the data pin in on each rising clock edge and
    copy the shift register to the outputs on each rising latch edge, as the chip does."""

    def __init__(self, factory: MockFactory, length: int = 16) -> None:
        self.data = factory.pin(DATA)
        self.shift = [0] * length  # index = chain position: chip 0 Q0..Q7, then chip 1 ...
        self.outputs = [0] * length
        self.latched: list[frozenset[int]] = []  # the outputs after every latch pulse
        clock_in, latch_in = factory.pin(CLOCK_PROBE), factory.pin(LATCH_PROBE)
        factory.pin(CLOCK, pin_class=MockConnectedPin, input_pin=clock_in)
        factory.pin(LATCH, pin_class=MockConnectedPin, input_pin=latch_in)
        clock_in.when_changed = self.on_clock
        latch_in.when_changed = self.on_latch

    def on_clock(self, ticks: float, state: bool) -> None:
        if state:  # a new bit enters chip 0's Q0 and every other bit moves one place on
            self.shift = [int(self.data.state), *self.shift[:-1]]

    def on_latch(self, ticks: float, state: bool) -> None:
        if state:
            self.outputs = list(self.shift)
            self.latched.append(self.lit)

    @property
    def lit(self) -> frozenset[int]:
        return frozenset(i for i, bit in enumerate(self.outputs) if bit)


# One pin per slot ------------------------------------------------------------------------------

def test_gpio_show_lights_exactly_the_given_slots(factory, closing):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory)
    closing(lights)
    assert lit(factory, GPIO_PINS) == set()
    lights.show({"A-01": "on", "A-03": "on"})
    assert lit(factory, GPIO_PINS) == {"A-01", "A-03"}
    lights.show({"A-02": "on"})
    assert lit(factory, GPIO_PINS) == {"A-02"}
    lights.show({})
    assert lit(factory, GPIO_PINS) == set()


def test_gpio_blink_toggles_in_the_background(factory, closing):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory, blink_s=0.05)
    closing(lights)
    pin = factory.pin(GPIO_PINS["A-02"])
    pin.clear_states()
    lights.show({"A-02": "blink", "A-01": "on"})
    wait_for(lambda: len(pin.states) >= 6)
    states = [s.state for s in pin.states]
    assert states[:6] == [False, True, False, True, False, True]
    assert factory.pin(GPIO_PINS["A-01"]).states[-1].state is True
    assert not factory.pin(GPIO_PINS["A-03"]).state


def test_gpio_repeated_show_keeps_the_blink_rhythm(noted, closing):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=noted, blink_s=0.05)
    closing(lights)
    pin = noted.pin(GPIO_PINS["A-01"])
    lights.show({"A-01": "blink"})
    wait_for(lambda: len(pin.steps()) >= 2)  # on, then the first dark half-period
    for _ in range(3):  # the kiosk loop calls show() every second with the same picture
        lights.show({"A-01": "blink"})
    wait_for(lambda: len(pin.steps()) >= 6)
    # One blink thread, never restarted: a restart would begin again with "on" at once, from a
    # thread of its own, and break the rhythm.
    assert len({thread for _, thread in pin.writes if thread is not threading.main_thread()}) == 1
    assert pin.steps()[:6] == [True, False] * 3


def test_gpio_collect_flashes_twice_then_rests_unlike_blink(noted, closing):
    """Staff fetching door-delivery parcels must tell their slots from a resident's pickup:
    collect's steps (each half a blink's) flash twice, then rest for five; blink alternates."""
    lights = GpioSlotLights(GPIO_PINS, pin_factory=noted, blink_s=0.02)
    closing(lights)
    collect, blink = noted.pin(GPIO_PINS["A-01"]), noted.pin(GPIO_PINS["A-02"])
    lights.show({"A-01": "collect", "A-02": "blink"})
    wait_for(lambda: len(collect.steps()) >= 16 and len(blink.steps()) >= 4)
    lights.close()
    assert PATTERNS["collect"] == (True, False, True, False, False, False, False, False)
    assert collect.steps()[:16] == list(PATTERNS["collect"]) * 2
    assert blink.steps()[:4] == [True, False, True, False]


@pytest.mark.proof
def test_gpio_collect_and_blink_keep_their_rhythm_on_the_clock(factory, closing):
    """Timed on the real clock (`make proofs`): two flashes of 0.15 s then 0.75 s dark, against
    blink's 0.3 s on, 0.3 s off."""
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory, blink_s=0.3)
    closing(lights)
    collect, blink = factory.pin(GPIO_PINS["A-01"]), factory.pin(GPIO_PINS["A-02"])
    collect.clear_states()
    blink.clear_states()
    lights.show({"A-01": "collect", "A-02": "blink"})
    wait_for(lambda: len(collect.states) >= 7)
    on, off, on_again, rest, on_third = collect.states[2:7]
    assert [s.state for s in (on, off, on_again, rest, on_third)] == [False, True, False, True,
                                                                      False]
    flashes = [on.timestamp, off.timestamp, on_again.timestamp]
    assert all(0.05 < seconds < 0.3 for seconds in flashes), collect.states
    assert rest.timestamp > 3 * max(flashes), collect.states  # the rest is what blink lacks
    assert_rhythm(blink, [(0.3, False), (0.3, True), (0.3, False)])


def test_gpio_collect_gives_way_to_another_mode_and_to_close(factory, closing):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory, blink_s=0.04)
    pin = factory.pin(GPIO_PINS["A-03"])
    lights.show({"A-03": "collect"})
    wait_for(lambda: len(pin.states) >= 5)
    lights.show({"A-03": "on"})  # a courier's check-in: steady, the pattern's thread gone
    changes = len(pin.states)
    time.sleep(0.1)
    assert pin.state is True and len(pin.states) == changes
    lights.show({"A-03": "collect"})
    wait_for(lambda: len(pin.states) >= changes + 3)
    lights.close()
    assert pin.state is False
    changes = len(pin.states)
    time.sleep(0.1)
    assert len(pin.states) == changes  # no pattern thread lit it again after close


def test_gpio_unknown_slot_is_a_warning_once(factory, closing, caplog):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory)
    closing(lights)
    with caplog.at_level(logging.WARNING, logger="hardware.lights"):
        lights.show({"Z-99": "on", "A-01": "on"})
        lights.show({"Z-99": "on", "A-01": "on"})
    assert lit(factory, GPIO_PINS) == {"A-01"}
    assert [r.getMessage() for r in caplog.records] == ["no LED for slot 'Z-99': ignored"]


def test_gpio_close_darkens_and_releases_the_pins(factory):
    lights = GpioSlotLights(GPIO_PINS, pin_factory=factory, blink_s=0.02)
    lights.show({"A-01": "on", "A-02": "blink"})
    time.sleep(0.03)
    lights.close()
    assert lit(factory, GPIO_PINS) == set()
    changes = len(factory.pin(GPIO_PINS["A-02"]).states)
    time.sleep(0.06)
    assert len(factory.pin(GPIO_PINS["A-02"]).states) == changes  # the blink thread is gone
    LED(GPIO_PINS["A-01"], pin_factory=factory).close()  # the pin is free again


# A 74HC595 chain -------------------------------------------------------------------------------

def test_chain_latches_the_positions_of_the_lit_slots(factory, closing):
    chain = Chain595(factory)
    shelf = shelf_b()
    lights = build_lights([shelf], pin_factory=factory)
    closing(lights)
    assert chain.latched == [frozenset()]  # cleared at start: a 595 powers up at random
    lights.show({"B-01": "on", "B-08": "on", "B-09": "on", "B-16": "on"})
    assert chain.lit == {0, 7, 15, 8}  # B-09 is wired to position 15, B-16 to position 8
    lights.show({"B-03": "on", "B-12": "on"})
    assert chain.lit == {shelf.led_of["B-03"], shelf.led_of["B-12"]} == {2, 12}
    assert factory.pin(CLOCK).state is False and factory.pin(LATCH).state is False


def test_chain_is_rewritten_only_when_the_pattern_changes(factory, closing):
    chain = Chain595(factory)
    lights = ShiftRegisterSlotLights(shelf_b().led_of, DATA, CLOCK, LATCH, pin_factory=factory)
    closing(lights)
    lights.show({"B-05": "on"})
    clock_edges = len(factory.pin(CLOCK).states)
    for _ in range(3):
        lights.show({"B-05": "on"})
    assert len(chain.latched) == 2  # the clearing write and the one for B-05
    assert len(factory.pin(CLOCK).states) == clock_edges
    assert clock_edges == 1 + 2 * 16 * 2  # two writes of 16 bits, a rise and a fall per bit


def test_chain_blinks_in_step_beside_steady_slots(factory, closing):
    chain = Chain595(factory)
    lights = ShiftRegisterSlotLights(shelf_b().led_of, DATA, CLOCK, LATCH, pin_factory=factory,
                                     blink_s=0.03)
    closing(lights)
    lights.show({"B-01": "on", "B-02": "blink", "B-16": "blink"})
    wait_for(lambda: len(chain.latched) >= 6)
    lights.close()
    on, off = frozenset({0, 1, 8}), frozenset({0})
    assert chain.latched[1:4] == [on, off, on]
    assert set(chain.latched[1:-1]) == {on, off}
    assert chain.latched[-1] == frozenset()  # close() darkened the chain
    latches = len(chain.latched)
    time.sleep(0.08)
    assert len(chain.latched) == latches  # ... and stopped the blink thread


def test_chain_collect_double_blinks_in_step_with_blink(factory, closing):
    chain = Chain595(factory)
    lights = ShiftRegisterSlotLights(shelf_b().led_of, DATA, CLOCK, LATCH, pin_factory=factory,
                                     blink_s=0.03)
    closing(lights)
    lights.show({"B-01": "on", "B-02": "collect", "B-03": "blink"})
    wait_for(lambda: len(chain.latched) >= 9)
    lights.close()
    steady, collect, blink = 0, 1, 2  # chain positions of B-01, B-02, B-03
    # Steps of 15 ms: blink is on for two, off for two; collect on, off, on, then off for five.
    assert chain.latched[1:8] == [frozenset(s) for s in (
        {steady, collect, blink}, {steady, blink}, {steady, collect}, {steady},
        {steady, blink}, {steady}, {steady, collect, blink})]


def test_chain_ignores_unknown_slots(factory, closing, caplog):
    chain = Chain595(factory)
    lights = ShiftRegisterSlotLights(shelf_b().led_of, DATA, CLOCK, LATCH, pin_factory=factory)
    closing(lights)
    with caplog.at_level(logging.WARNING, logger="hardware.lights"):
        lights.show({"B-04": "on", "A-01": "on", "B-05": "glow"})  # type: ignore[dict-item]
    assert chain.lit == {3}
    assert len(caplog.records) == 2


# All shelves together --------------------------------------------------------------------------

def test_build_lights_routes_each_slot_to_its_shelf(factory, closing, caplog):
    chain = Chain595(factory)
    lights = build_lights([shelf_a(), shelf_b()], pin_factory=factory)
    closing(lights)
    assert isinstance(lights, ShelfLights)
    assert lights.slots == set(GPIO_PINS) | set(shelf_b().led_of)
    with caplog.at_level(logging.WARNING, logger="hardware.lights"):
        lights.show({"A-02": "on", "B-02": "on", "FLOOR": "on"})  # the overflow has no LED
    assert lit(factory, GPIO_PINS) == {"A-02"}
    assert chain.lit == {1}
    assert "FLOOR" in caplog.text
    lights.show({"B-03": "on"})  # a shelf not named in the picture goes dark
    assert lit(factory, GPIO_PINS) == set()
    assert chain.lit == {2}
    lights.close()
    assert chain.lit == frozenset() and lit(factory, GPIO_PINS) == set()


def test_build_lights_refuses_an_unknown_led_kind_and_frees_the_pins(factory):
    bad = Shelf("C", "Shelf C", "ws2812", (), {})
    with pytest.raises(ConfigError, match="shelf C: leds = 'ws2812'"):
        build_lights([shelf_a(), bad], pin_factory=factory)
    LED(GPIO_PINS["A-01"], pin_factory=factory).close()  # shelf A's pins were released


def test_shelf_lights_refuses_a_slot_with_two_leds(factory, closing):
    first = GpioSlotLights({"A-01": 5}, pin_factory=factory)
    second = GpioSlotLights({"A-01": 6}, pin_factory=factory)
    closing(first)
    closing(second)
    with pytest.raises(ValueError, match="A-01"):
        ShelfLights([first, second])


def test_gpio_audit_is_long_on_short_off_unlike_every_other_pattern(noted, closing):
    """The slot a shelf audit checks must not look like a check-in (on), a pickup (blink), a
    team's collect or the alarm: on for six steps, off for two, on a pin of its own."""
    lights = GpioSlotLights(GPIO_PINS, pin_factory=noted, blink_s=0.02)
    closing(lights)
    audit = noted.pin(GPIO_PINS["A-03"])
    lights.show({"A-03": "audit"})
    wait_for(lambda: len(audit.steps()) >= 16)
    lights.show({})
    assert not audit.state  # out of the audit: dark, its pattern's thread stopped
    steps = audit.steps()[:16]
    assert steps == [True] * 6 + [False] * 2 + [True] * 6 + [False] * 2
    patterns = {mode: PATTERNS[mode] for mode in ("blink", "collect", "alarm", "audit")}
    assert len(set(patterns.values())) == 4 and all(any(p) and not all(p)
                                                    for p in patterns.values())


def test_chain_audit_steps_with_the_other_patterns(factory, closing):
    chain = Chain595(factory)
    lights = ShiftRegisterSlotLights(shelf_b().led_of, DATA, CLOCK, LATCH, pin_factory=factory,
                                     blink_s=0.03)
    closing(lights)
    lights.show({"B-01": "audit", "B-02": "blink"})
    wait_for(lambda: len(chain.latched) >= 6)
    lights.close()
    audit, blink = 0, 1
    # Steps of 15 ms: blink on two, off two; audit on six (through blink's dark steps), off
    # two (with blink's); a step that changes nothing is not latched again.
    assert chain.latched[1:6] == [frozenset(s) for s in (
        {audit, blink}, {audit}, {audit, blink}, set(), {audit, blink})]
