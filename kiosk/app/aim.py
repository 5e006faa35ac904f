"""`shelf doctor --aim [SECONDS]`: aim the camera with a label held where couriers hold parcels.

For SECONDS (30 unless said) it reads the camera and, twice a second, says for each code in
view how many pixels a module spans, whether it was read and what that means (good; far: move
the camera closer or use 1280x720; too far), with the frame's white and glare: the figures
`bench labels` measured the labels by (``hardware.aiming``). The kiosk holds the camera while
it runs: stop it first. Exit 0 when the last code seen was good, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from kiosk.app.words import say
from kiosk.backup import running
from kiosk.config import Config

LOOK_EVERY_S = 0.5
FIRST_FRAME_S = 30.0  # however short the aim, one look at least: a camera may start slowly


def cmd_aim(args: argparse.Namespace, config: Config,
            open_source: Callable[[str], Any] | None = None) -> int:
    from hardware.aiming import look

    if "run" in running(config.database):
        print(say("doctor_aim_held"))
        return 1
    if open_source is None:
        from hardware.camera import open_source as open_hardware

        def open_source(spec: str) -> Any:
            return open_hardware(spec, speed=None, loop=True)
    try:
        source = open_source(config.kiosk.camera)
    except Exception as exc:  # noqa: BLE001 - whatever the driver says is the finding
        print(say("doctor_camera_shut", spec=config.kiosk.camera, why=str(exc)[:200]))
        return 1
    sights, last_good = [], False
    try:
        started = time.monotonic()
        ends, next_look = started + args.aim, 0.0
        while time.monotonic() < ends or (not sights and
                                          time.monotonic() < started + FIRST_FRAME_S):
            frame = source.read()
            if frame is None or time.monotonic() < next_look:
                continue
            next_look = time.monotonic() + LOOK_EVERY_S
            sight = look(frame)
            sights.append(sight.as_json())
            if sight.codes:
                last_good = sight.codes[0].verdict == "good"
            if not args.json:
                print(_line(sight), flush=True)
    finally:
        source.close()
    if args.json:
        print(json.dumps({"ok": last_good, "aim": sights}, ensure_ascii=False))
    elif not any(s["codes"] for s in sights):
        print(say("doctor_aim_nothing"))
    return 0 if last_good else 1


def _line(sight: Any) -> str:
    """One look: every code in view, then the frame's white and glare."""
    frame = say("doctor_aim_frame", white=sight.brightness, glare=f"{sight.glare:.1%}")
    if not sight.codes:
        return say("doctor_aim_none") + " · " + frame
    codes = []
    for seen in sight.codes:
        read = say("doctor_aim_read" if seen.read else "doctor_aim_unread")
        if seen.module_px is None:
            codes.append(say("doctor_aim_barcode", read=read))
        else:
            codes.append(say("doctor_aim_qr", read=read, px=f"{seen.module_px:.1f}",
                             verdict=say(f"doctor_aim_{seen.verdict}")))
    return " · ".join([*codes, frame])
