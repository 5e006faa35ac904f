"""Composition root: build the kiosk's adapters from the configuration.

The only place in ``kiosk`` that imports ``hardware`` (and through it gpiozero, OpenCV and
pyzbar); the imports are local so that the web process never loads them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from kiosk.config import Config
from kiosk.ports import Clock, FrameSource
from kiosk.scanner import Scanner
from kiosk.services import ScanResult


def build_scanner(config: Config, conn: sqlite3.Connection, clock: Clock, *,
                  source: FrameSource | None = None, camera: str | None = None,
                  speed: float | None = 1.0, pin_factory=None,
                  on_result: Callable[[ScanResult], None] | None = None,
                  heartbeat: Callable[[], None] | None = None) -> Scanner:
    """A Scanner on the configured camera (or ``camera``/``source``), LEDs and buzzer.

    ``speed`` paces a replayed video (1: real time); a live camera paces itself.
    """
    from hardware.buzzer import GpioBuzzer, SilentBuzzer
    from hardware.camera import open_source
    from hardware.decoder import ZbarDecoder
    from hardware.lights import build_lights
    from hardware.pins import default_pin_factory

    factory = pin_factory or default_pin_factory()
    lights = build_lights(config.shelves, pin_factory=factory)
    buzzer = (GpioBuzzer(config.buzzer_pin, pin_factory=factory) if config.buzzer_pin
              else SilentBuzzer())
    if source is None:
        source = open_source(camera or config.camera, speed=speed)
    return Scanner(source=source, decoder=ZbarDecoder(), lights=lights, buzzer=buzzer,
                   conn=conn, config=config, clock=clock, on_result=on_result,
                   heartbeat=heartbeat)
