"""The kiosk loop with slot buttons on gpiozero's mock pins: a press is answered with the
right light and beep; no button configured, no pin claimed and nothing new happens."""

from __future__ import annotations

import threading

import pytest
from buttons import CHAIN_PINS, GPIO_BUTTONS, LEDS, add_buttons
from conftest import PATIENCE_S, check_in, wait_for

from hardware.sim import QuietCamera
from kiosk.app.wiring import build_scanner
from kiosk.community import open_store
from kiosk.grabber import Mailbox

BUZZER = 18  # the sample's


@pytest.fixture
def config(community):
    return add_buttons(community.path)


@pytest.fixture
def kiosk(config, clock, factory):
    factory.pin(CHAIN_PINS["data"]).drive_high()  # shelf B's chain, idle: nothing pressed
    conn = open_store(config)
    scanner = build_scanner(config, conn, clock, source=QuietCamera(), pin_factory=factory)
    yield scanner, conn
    scanner.close()
    conn.close()


def beeps(factory) -> int:
    return sum(1 for s in factory.pin(BUZZER).states if s.state)


def test_the_right_press_darkens_the_slot_with_one_beep(kiosk, config, clock, factory):
    scanner, conn = kiosk
    check_in(conn, config, clock, "24-2304")
    scanner.refresh_lights()
    led = factory.pin(LEDS["A-12"])
    assert led.state
    factory.pin(GPIO_BUTTONS["A-12"]).drive_low()
    assert [p.action for p in scanner.handle_presses()] == ["placed"]
    assert not led.state
    wait_for(lambda: beeps(factory) == 1)


def test_a_wrong_press_alarms_on_both_slots_and_warns(kiosk, config, clock, factory):
    scanner, conn = kiosk
    check_in(conn, config, clock, "24-2304")
    scanner.refresh_lights()
    factory.pin(GPIO_BUTTONS["A-11"]).drive_low()
    assert [p.expected for p in scanner.handle_presses()] == ["A-12"]
    wrong, meant = factory.pin(LEDS["A-11"]), factory.pin(LEDS["A-12"])
    for pin in (wrong, meant):  # both blink: on, off, on again
        pin.clear_states()
    wait_for(lambda: all(len(p.states) >= 4 for p in (wrong, meant)))
    wait_for(lambda: beeps(factory) >= 3)  # the warning: three beeps
    factory.pin(GPIO_BUTTONS["A-11"]).drive_high()
    factory.pin(GPIO_BUTTONS["A-12"]).drive_low()
    assert [p.action for p in scanner.handle_presses()] == ["placed"]
    wait_for(lambda: not wrong.state and not meant.state)


def test_the_loop_answers_a_press_while_it_runs(kiosk, config, clock, factory):
    scanner, conn = kiosk
    check_in(conn, config, clock, "24-2304")
    stop = threading.Event()
    loop = threading.Thread(target=scanner.run, args=(stop,))
    loop.start()
    try:
        wait_for(lambda: factory.pin(LEDS["A-12"]).state)
        factory.pin(GPIO_BUTTONS["A-12"]).drive_low()
        wait_for(lambda: conn.execute("SELECT placed_at FROM parcels").fetchone()[0])
        wait_for(lambda: not factory.pin(LEDS["A-12"]).state)
    finally:
        scanner.source.close()  # its end ends the loop at once
        stop.set()
        loop.join()


def test_without_buttons_no_button_pin_is_claimed(community, clock, factory):
    conn = open_store(community)
    scanner = build_scanner(community, conn, clock, source=QuietCamera(), pin_factory=factory)
    try:
        assert scanner.buttons is None
        assert not any(pin in factory.pins for pin in GPIO_BUTTONS.values())
    finally:
        scanner.close()
        conn.close()


def test_a_press_ends_the_loops_wait_for_a_frame_even_one_not_begun_yet():
    box = Mailbox()
    box.nudge()  # a press noted just before the loop waits: its wait must not start
    waited = threading.Thread(target=box.take, args=(PATIENCE_S * 10,))
    waited.start()
    waited.join(PATIENCE_S)
    assert not waited.is_alive()
    box.nudge()
    assert box.take(0) is None  # nudged, not a frame
    returned = []
    later = threading.Thread(target=lambda: returned.append(box.take(PATIENCE_S * 10)))
    later.start()  # waiting now (or about to): a press from another thread ends it
    box.nudge()
    later.join(PATIENCE_S)
    assert returned == [None]
