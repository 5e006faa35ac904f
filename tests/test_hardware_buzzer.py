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


def test_confirm_is_one_short_beep_and_does_not_block(factory, buzzer):
    pin = factory.pin(PIN)
    pin.clear_states()
    buzzer.confirm()
    assert len(pin.states) < 3  # returned while the beep is still sounding
    wait_for(lambda: len(pin.states) == 3)
    time.sleep(0.15)
    assert_beeps(pin, 1)


def test_warn_is_three_beeps(factory, buzzer):
    pin = factory.pin(PIN)
    pin.clear_states()
    buzzer.warn()
    assert len(pin.states) < 7
    wait_for(lambda: len(pin.states) == 7)
    time.sleep(0.15)
    assert_beeps(pin, 3)


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
