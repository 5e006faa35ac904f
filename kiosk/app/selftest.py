"""`shelf selftest`: each slot lights in turn with a beep, so a volunteer checks the wiring.

The slots go in the configuration's order (shelf A's first, then B's), one at a time, each
lit while the buzzer beeps once and for ``seconds`` after; at the end every LED is dark and the
pins are released. It drives the pins itself, so the kiosk must not be running (it is refused then).
"""

from __future__ import annotations

import argparse
import threading
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
    lit = run_selftest(config, seconds=args.seconds, stop=stop_on_signals())
    print(words("selftest_done", count=len(lit)))
    return 0
