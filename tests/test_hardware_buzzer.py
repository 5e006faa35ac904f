"""The buzzer on gpiozero's mock pins: the beep patterns people hear, with their timing."""

from __future__ import annotations

import time

import pytest
from conftest import wait_for

from hardware.buzzer import GpioBuzzer

PIN = 18


def assert_beeps(pin, n: int) -> None:
    """The pin went high ``n`` times for about 0.1 s, with about 0.1 s between beeps."""
    assert [s.state for s in pin.states] == [False] + [True, False] * n
    times = [s.timestamp for s in pin.states[2:]]  # each beep's length, each gap's length
    assert all(0.09 <= t < 0.3 for t in times), times  # loose above: CI machines are busy


@pytest.fixture
def buzzer(factory):
    buzzer = GpioBuzzer(PIN, pin_factory=factory)
    yield buzzer
    buzzer.close()


@pytest.mark.parametrize(("sound", "beeps"), [("confirm", 1), ("warn", 3)])
def test_confirm_is_one_beep_and_warn_three_without_blocking(factory, buzzer, sound, beeps):
    pin = factory.pin(PIN)
    pin.clear_states()
    getattr(buzzer, sound)()
    changes = 1 + 2 * beeps
    assert len(pin.states) < changes  # returned while the pattern is still sounding
    wait_for(lambda: len(pin.states) == changes)
    time.sleep(0.15)
    assert_beeps(pin, beeps)


def test_close_silences_a_running_pattern(factory, buzzer):
    pin = factory.pin(PIN)
    buzzer.warn()
    wait_for(lambda: pin.state)
    buzzer.close()
    assert pin.state is False
    changes = len(pin.states)
    time.sleep(0.15)
    assert len(pin.states) == changes
    buzzer.close()  # a second close is harmless
