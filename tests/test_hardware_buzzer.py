"""The buzzer on gpiozero's mock pins: the beep patterns people hear, in order.

How long each beep lasts is timed on a real clock by `make proofs` (marker ``proof``): on a
busy machine gpiozero's threads run late, so `make test` asserts the order of what the pin did.
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import wait_for
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.buzzer import BEEP_S, GpioBuzzer

PIN = 18


class HeldPin(MockPin):
    """A mock pin whose switch-offs from gpiozero's pattern thread wait while ``held``: a beep
    sounds for as long as the test says, however fast or slow the machine is."""

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self.free = threading.Event()  # clear: the switch-offs wait
        self.free.set()

    def hold(self) -> None:
        self.free.clear()

    def release(self) -> None:
        self.free.set()

    def _change_state(self, value):
        if not value and threading.current_thread() is not threading.main_thread():
            self.free.wait(60)
        return super()._change_state(value)


@pytest.fixture
def held_factory():
    factory = MockFactory(pin_class=HeldPin)
    yield factory
    factory.reset()


@pytest.fixture
def buzzer(held_factory):
    buzzer = GpioBuzzer(PIN, pin_factory=held_factory)
    yield buzzer
    buzzer.close()


def settled(pin, changes: int) -> list[bool]:
    """The pin's states once it made ``changes`` changes, and none in the next beep's time."""
    wait_for(lambda: len(pin.states) >= changes)
    time.sleep(2 * BEEP_S)  # a pattern that went on would switch the pin again meanwhile
    return [s.state for s in pin.states]


@pytest.mark.parametrize(("sound", "beeps"), [("confirm", 1), ("warn", 3)])
def test_confirm_is_one_beep_and_warn_three_without_blocking(held_factory, buzzer, sound,
                                                             beeps):
    pin = held_factory.pin(PIN)
    pin.clear_states()
    pin.hold()  # the first beep cannot end until the test says so
    getattr(buzzer, sound)()
    assert len(pin.states) < 3  # returned while the first beep still sounds
    pin.release()
    assert settled(pin, 1 + 2 * beeps) == [False] + [True, False] * beeps
    assert all(s.timestamp >= BEEP_S * 0.9 for s in pin.states[2:])  # never shorter


def test_confirm_can_wait_until_its_beep_is_over(held_factory, buzzer):
    """`shelf selftest` beeps once per slot and moves on only when the beep is over."""
    pin = held_factory.pin(PIN)
    pin.clear_states()
    started = time.monotonic()
    buzzer.confirm(wait=True)
    assert [s.state for s in pin.states] == [False, True, False]
    assert time.monotonic() - started >= 2 * BEEP_S * 0.9  # the beep, then its pause


def test_close_silences_a_running_pattern(held_factory, buzzer):
    pin = held_factory.pin(PIN)
    buzzer.warn()
    wait_for(lambda: pin.state)
    buzzer.close()
    assert pin.state is False
    changes = len(pin.states)
    time.sleep(2 * BEEP_S)  # a pattern thread left running would switch the pin meanwhile
    assert len(pin.states) == changes
    buzzer.close()  # a second close is harmless


@pytest.mark.proof
@pytest.mark.parametrize(("sound", "beeps"), [("confirm", 1), ("warn", 3)])
def test_each_beep_and_each_gap_lasts_about_a_tenth_of_a_second(factory, sound, beeps):
    """Timed on the real clock (`make proofs`): 0.1 s beeps with 0.1 s between them."""
    buzzer = GpioBuzzer(PIN, pin_factory=factory)
    try:
        pin = factory.pin(PIN)
        pin.clear_states()
        getattr(buzzer, sound)()
        wait_for(lambda: len(pin.states) == 1 + 2 * beeps)
        assert [s.state for s in pin.states] == [False] + [True, False] * beeps
        times = [s.timestamp for s in pin.states[2:]]  # each beep's length, each gap's length
        assert all(0.09 <= t < 0.3 for t in times), times
    finally:
        buzzer.close()
