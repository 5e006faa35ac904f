"""`shelf selftest` on gpiozero's mock pins: each slot alone, in the configured order, a beep
each, and every LED dark at the end (one pin per slot, and a 74HC595 chain read bit by bit)."""

from __future__ import annotations

import dataclasses

import pytest
from test_backup import shelf
from test_hardware_lights import GPIO_PINS, Chain595, shelf_a, shelf_b

from kiosk.app.selftest import run_selftest
from kiosk.backup import hold_lock
from kiosk.config import Layout

BUZZER = 18


@pytest.fixture
def wired(community):
    """The sample community with test_hardware_lights' two shelves (3 pins, a 16-LED chain)."""
    layout = Layout((shelf_a(), shelf_b()), community.layout.overflow,
                    community.layout.overflow_name)
    return dataclasses.replace(community, layout=layout)


def test_each_slot_lights_alone_in_order_with_a_beep_and_all_end_dark(wired, factory):
    chain = Chain595(factory)
    b = wired.layout.shelves[1]
    seen = []

    def snapshot(line: str) -> None:  # said while the slot is lit, before its beep
        gpio = {code for code, pin in GPIO_PINS.items() if factory.pin(pin).state}
        chain_lit = {code for code, position in b.led_of.items() if position in chain.lit}
        seen.append((gpio | chain_lit, factory.pin(BUZZER).state, line))

    # No pause between slots: each beep must still be heard whole, however busy the machine
    # (a beep left in the background ran on into the next one's: two heard as one).
    lit = run_selftest(wired, seconds=0, pin_factory=factory, say=snapshot)
    order = [*GPIO_PINS, *(f"B-{i:02d}" for i in range(1, 17))]
    assert lit == order
    assert [shown for shown, _, _ in seen] == [{code} for code in order]  # one at a time
    assert not any(sounding for _, sounding, _ in seen)  # the last slot's beep is over
    assert "1/19  A-01 lit, one beep (BCM 5)" in seen[0][2]
    assert "B-09 lit, one beep (74HC595 #1 QH)" in seen[11][2]  # wired back to front
    assert [s.state for s in factory.pin(BUZZER).states] == [False] + [True, False] * len(order)
    assert not any(factory.pin(pin).state for pin in [*GPIO_PINS.values(), BUZZER])
    assert chain.lit == frozenset()  # the chain cleared too
    # released: another program (the kiosk) may claim every pin again
    from gpiozero import LED

    for pin in [*GPIO_PINS.values(), BUZZER]:
        LED(pin, pin_factory=factory).close()


def test_selftest_refuses_while_the_kiosk_holds_the_pins(community):
    with hold_lock(community.database, "run"):
        done = shelf(community, "selftest", "--seconds", "0")
    assert done.returncode == 2
    assert "sudo systemctl stop shelf-kiosk" in done.stderr


def test_selftest_command_runs_on_mock_pins_off_a_pi(community):
    done = shelf(community, "selftest", "--seconds", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "28 slots lit in turn; all dark now"
