"""Build the kiosk's parts from the configuration: adapters from ``hardware``, the core's rules.

Hardware imports stay inside the functions so that a command that never drives GPIO or the
camera (the web site, the notice worker) never loads gpiozero, OpenCV, zxing-cpp or pyzbar.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from kiosk.config import Config
from kiosk.grabber import Recovery
from kiosk.outcome import Outcome
from kiosk.ports import Clock, FrameSource
from kiosk.scanner import Scanner
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork


def build_scanner(config: Config, conn: sqlite3.Connection, clock: Clock, *,
                  source: FrameSource | None = None, camera: str | None = None,
                  speed: float | None = 1.0, pin_factory=None,
                  on_result: Callable[[Outcome], None] | None = None,
                  recovery: Recovery | None = None) -> Scanner:
    """A Scanner on the configured camera (or ``camera``/``source``), LEDs and buzzer.

    ``speed`` paces a replayed video (1: real time); a live camera paces itself, and is
    reopened when it is lost (``recovery``: how; by default from ``[kiosk]``). A live camera
    that cannot be opened now is waited for the same way; a replay that is not there, or a
    setting that does not parse, raises ConfigError.
    """
    from hardware.aiming import AimingLook
    from hardware.buttons import build_buttons
    from hardware.buzzer import GpioBuzzer, SilentBuzzer
    from hardware.camera import CameraUnavailable, open_source, reopener
    from hardware.decoder import DecoderChain
    from hardware.lights import build_lights
    from hardware.pins import default_pin_factory
    from hardware.stills import JpegStills
    from kiosk.camera_view import CameraViewer

    settings = config.kiosk
    factory = pin_factory or default_pin_factory()
    lights = build_lights(config.layout.shelves, pin_factory=factory)
    try:
        buttons = build_buttons(config.layout.shelves, pin_factory=factory)
    except Exception:
        lights.close()  # its pins are free again for the next try
        raise
    buzzer = (GpioBuzzer(settings.buzzer_pin, pin_factory=factory) if settings.buzzer_pin
              else SilentBuzzer())
    missing = ""  # why a live camera could not be opened at start
    if source is None:
        spec = camera or settings.camera
        reopen = reopener(spec, speed=speed)
        if recovery is None and reopen is not None:
            recovery = Recovery(reopen, freeze_s=settings.camera_freeze_s)
        try:
            source = open_source(spec, speed=speed, loop=settings.replay == "loop")
        except CameraUnavailable as exc:
            if recovery is None:
                raise
            missing = f"not found at start ({' '.join(str(exc).split())})"
    return Scanner(source=source, decoder=DecoderChain(fuse=True), lights=lights, buzzer=buzzer,
                   uow=SqliteUnitOfWork(conn), rules=Rules.from_config(config), clock=clock,
                   debounce_s=settings.debounce_s, on_result=on_result,
                   stills=JpegStills() if settings.stills_days else None, recovery=recovery,
                   camera_missing=missing, buttons=buttons if buttons.slots else None,
                   viewer=CameraViewer(conn, AimingLook(), clock).offer)
