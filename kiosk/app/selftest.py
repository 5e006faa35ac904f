"""`shelf selftest`: each slot lights in turn with a beep, so a volunteer checks the wiring.

The slots go in the configuration's order (shelf A's first, then B's), one at a time, each
lit while the buzzer beeps once and for ``seconds`` after; at the end every LED is dark and the
pins are released. Then each slot that has a button lights again and the volunteer is asked to
press it (``button_seconds`` at most each); the report says which buttons answered, which did
not, and a button that answered for another slot (its wires swapped). It drives the pins
itself, so the kiosk must not be running (it is refused then).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

from kiosk.app.signals import stop_on_signals
from kiosk.app.words import say as words
from kiosk.backup import running
from kiosk.config import Config
from kiosk.errors import ShelfError
from kiosk.ports import Clock


def run_selftest(config: Config, *, seconds: float, pin_factory=None,
                 say: Callable[[str], None] = print,
                 stop: threading.Event | None = None) -> list[str]:
    """Light each configured slot in turn for ``seconds``, beeping once; return their order."""
    from hardware.buzzer import GpioBuzzer, SilentBuzzer
    from hardware.lights import build_lights
    from hardware.pins import default_pin_factory

    factory = pin_factory or default_pin_factory()
    lights = build_lights(config.layout.shelves, pin_factory=factory)
    pin = config.kiosk.buzzer_pin
    buzzer = GpioBuzzer(pin, pin_factory=factory) if pin else SilentBuzzer()
    stop = stop or threading.Event()
    lit: list[str] = []
    try:
        slots = [s for shelf in config.layout.shelves for s in shelf.slots]
        for number, slot in enumerate(slots, start=1):
            if stop.is_set():
                break
            lights.show({slot.code: "on"})
            say(words("selftest_slot", number=number, count=len(slots), slot=slot.code,
                      where=_where(config, slot.code)))
            # Beep here, not in the background: a background beep a busy Pi runs late is cut
            # short by the next slot's, and the two are heard as one long tone.
            buzzer.confirm(wait=True)
            lit.append(slot.code)
            stop.wait(seconds)
        lights.show({})
    finally:
        lights.close()
        buzzer.close()
    return lit


PRESS_POLL_S = 0.02  # how often the buttons are asked while a volunteer is to press one


def run_button_test(config: Config, *, button_seconds: float, pin_factory=None,
                    say: Callable[[str], None] = print,
                    stop: threading.Event | None = None) -> dict[str, str | None]:
    """Light each slot that has a button and wait for its press; return slot -> the slot
    whose button answered (itself when right), or None when none did in ``button_seconds``."""
    from hardware.buttons import build_buttons
    from hardware.lights import build_lights
    from hardware.pins import default_pin_factory

    factory = pin_factory or default_pin_factory()
    slots = [s.code for shelf in config.layout.shelves for s in shelf.slots if s.button]
    if not slots:
        return {}
    lights = build_lights(config.layout.shelves, pin_factory=factory)
    stop = stop or threading.Event()
    answered: dict[str, str | None] = {}
    try:
        buttons = build_buttons(config.layout.shelves, pin_factory=factory)
        try:
            buttons.presses()  # a press from before the question is no answer
            for number, code in enumerate(slots, start=1):
                if stop.is_set():
                    break
                lights.show({code: "on"})
                say(words("selftest_press", number=number, count=len(slots), slot=code,
                          where=_button_where(config, code)))
                answered[code] = _first_press(buttons, code, button_seconds, stop)
                say(_answer(code, answered[code]))
            lights.show({})
        finally:
            buttons.close()
    finally:
        lights.close()
    return answered


def _first_press(buttons, code: str, seconds: float, stop: threading.Event) -> str | None:
    """The slot whose button is pressed first (``code``'s own wins), or None in ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        pressed = buttons.presses()
        if pressed:
            return code if code in pressed else pressed[0]
        if time.monotonic() >= deadline or stop.wait(PRESS_POLL_S):
            return None


def _answer(code: str, pressed: str | None) -> str:
    if pressed == code:
        return words("selftest_button_ok", slot=code)
    if pressed is None:
        return words("selftest_button_none", slot=code)
    return words("selftest_button_other", slot=code, other=pressed)


def _button_where(config: Config, code: str) -> str:
    for shelf in config.layout.shelves:
        if code in shelf.button_of:
            n = shelf.button_of[code]
            if shelf.buttons == "gpio":
                return f"BCM {n}"
            return f"74HC165 #{n // 8} input {'ABCDEFGH'[n % 8]}"
    return "?"


def _where(config: Config, code: str) -> str:
    for shelf in config.layout.shelves:
        if code in shelf.led_of:
            n = shelf.led_of[code]
            return f"BCM {n}" if shelf.leds == "gpio" else f"74HC595 #{n // 8} Q{'ABCDEFGH'[n % 8]}"
    return "?"


def cmd_selftest(args: argparse.Namespace, clock: Clock,
                 load: Callable[[argparse.Namespace], Config]) -> int:
    config = load(args)
    if "run" in running(config.database):
        raise ShelfError(words("selftest_kiosk_runs"))
    stop = stop_on_signals()
    lit = run_selftest(config, seconds=args.seconds, stop=stop)
    print(words("selftest_done", count=len(lit)))
    answered = run_button_test(config, button_seconds=args.button_seconds, stop=stop)
    if not answered:
        return 0
    right = [code for code, pressed in answered.items() if pressed == code]
    print(words("selftest_buttons_done", answered=len(right), count=len(answered)))
    return 0 if len(right) == len(answered) else 1
