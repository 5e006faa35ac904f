"""The shelf's label and the door sticker at QR error correction M, Q and H, as printed.

Each level gives, at the label's fixed print size (``kiosk.printing``), a different symbol:
more correction means more modules in the same square, so smaller ones. Which reads best at
the gate? The label (and the sticker) exactly as printed (``kiosk.app.sim.gate_views``) is held
at 30-60 cm in front of a 60-degree camera at 640x480 and 1280x720 (the sticker: a phone's
photo, 70 degrees, shrunk to 1600 px by the door page), and seen clean, under glare over
10-40 % of the code, smeared by a hand's motion (0.5-1.5 mm on the card during the exposure)
and both; each frame is read by the kiosk's decoder on its own (no fusion). The three levels
see the same shots (the same seeds), so the difference is the symbol's.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from hardware.decoder import DecoderChain
from kiosk.app.sim import gate_views
from kiosk.app.sim.degrade import motion_blur
from kiosk.domain import HouseholdId
from kiosk.labels import make_label

LEVELS = ("m", "q", "h")
DISTANCES_MM = (300, 400, 500, 600)
CONDITIONS = ("clean", "glare", "smear", "glare_smear")
FRAMES = 16  # per cell: level x camera x distance x condition
SEED = 2304
SECRET = b"bench-labels"
LABEL_CAMERAS = {"640x480": ((640, 480), 60.0), "1280x720": ((1280, 720), 60.0)}
PHONE = {"phone 1600x1200": ((1600, 1200), 70.0)}
WORKERS = 2


def run() -> dict[str, Any]:
    jobs = [(what, camera, distance) for what, cameras in (("label", LABEL_CAMERAS),
                                                           ("sticker", PHONE))
            for camera in cameras for distance in DISTANCES_MM]
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        cells = [cell for part in pool.starmap(_measure, jobs) for cell in part]
    rows = [{"printed": what, "camera": camera, "cm": distance // 10, "seen as": condition,
             **{f"{level.upper()} read %": figures[level][0] for level in LEVELS},
             **{f"{level.upper()} px/module": figures[level][1] for level in LEVELS}}
            for what, camera, distance, condition, figures in cells]
    totals = []
    for what in ("label", "sticker"):
        mine = [c for c in cells if c[0] == what]
        totals.append({"printed": what, "camera": "all", "cm": "30-60", "seen as": "all",
                       **{f"{level.upper()} read %": round(float(np.mean(
                           [c[4][level][0] for c in mine])), 1) for level in LEVELS}})
    return {"title": "QR error correction of the printed label and door sticker: read % of "
                     f"{FRAMES} frames a cell, one frame each (the kiosk's decoder, no fusion)",
            "rows": rows + totals}


def _measure(what: str, camera: str, distance: int) -> list[tuple]:
    cv2.setNumThreads(1)
    size, fov = {**LABEL_CAMERAS, **PHONE}[camera]
    decoder = DecoderChain(fuse=False)
    out = []
    for condition in CONDITIONS:
        figures = {}
        for level in LEVELS:
            rng = np.random.default_rng([SEED, distance, CONDITIONS.index(condition)])
            reads, modules = 0, []
            for index in range(FRAMES):
                printed = _printed(what, index, level)
                frame, module = _frame(printed, size, fov, distance, condition, rng)
                modules.append(module)
                reads += any(s.data.decode("utf-8", "replace") == printed.text
                             for s in decoder.decode(frame))
            figures[level] = (round(100 * reads / FRAMES, 1), round(float(np.mean(modules)), 1))
        out.append((what, camera, distance, condition, figures))
    return out


def _printed(what: str, index: int, level: str) -> gate_views.Printed:
    household = f"{24 + index % 6}-{2301 + index % 24}"
    if what == "sticker":
        return gate_views.door_sticker(household, SECRET, level)
    return gate_views.shelf_label(make_label(SECRET, HouseholdId.parse(household),
                                             f"SF{4200000 + index}"), level)


def _frame(printed: gate_views.Printed, size: tuple[int, int], fov: float, distance: int,
           condition: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """One frame of ``printed`` at ``distance`` mm, and its module size in pixels."""
    shot = replace(gate_views.random_shot(printed, rng, camera=size), distance_mm=distance,
                   fov=fov)
    reflection = gate_views.random_glare(printed, rng) if "glare" in condition else None
    frame, _ = gate_views.photograph(printed, shot, rng, reflection=reflection)
    if "smear" in condition:  # 0.5-1.5 mm of the card's travel during the exposure
        length = float(rng.uniform(0.5, 1.5)) * shot.module_px(printed) / printed.module_mm
        frame = motion_blur(frame, max(2, round(length)), float(rng.uniform(0, 180)))
    return frame, shot.module_px(printed)
