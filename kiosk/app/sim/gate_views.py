"""Single camera frames at the gate, harder than ``degrade.PRESETS``: what the benchmark of
unseen frames is drawn from.

A view is a printed thing held in front of the gate's camera: the shelf's own parcel label or a
door sticker exactly as ``kiosk.printing`` prints them (its error correction level included),
or a carrier's waybill with a Code 128 barcode. It is drawn at ``RENDER_PX_MM`` pixels a
millimetre, then photographed (``photograph``) by a camera of ``FOV`` degrees at a distance, a
rotation, a tilt and a light, with sensor noise; its code's corners in the frame come along.

``KINDS`` spoil a view the ways a gate does, each at a random strength measured against the
code itself (so "glare over 40 % of the code" or "a smear of one module" mean the same at any
distance): ``glare`` covering 10-40 % of the code anywhere on it, ``motion_blur`` along any
direction up to one module (beyond it a one-module bar and its neighbour blend into one grey),
``defocus`` up to one module across, ``tilt`` 30-55 degrees, ``glare_blur_tilt`` all three
together, ``dusk`` and ``jpeg``; ``held`` is the plain view. The same seed gives the same
frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

import cv2
import numpy as np

from kiosk.app.sim.degrade import defocus, glare, jpeg, low_light, motion_blur
from kiosk.domain import HouseholdId
from kiosk.labels import ParcelLabel, door_payload, qr_modules

FOV = 60.0  # degrees across: the USB camera hardware/README.md recommends
CAMERAS = ((640, 480), (1280, 720))
RENDER_PX_MM = 12  # the printed thing is drawn at 12 px a mm (305 dpi) before it is seen
MODULE_PX = (3.0, 6.0)  # a QR module in the frame: from "reads reliably" to a label held close
BAR_PX = (2.0, 4.0)  # a Code 128 narrowest bar, the same
WAYBILL_BAR_MM = 0.375  # a carrier's Code 128: its narrowest bar, and its height
WAYBILL_HEIGHT_MM = 15.0
REFLECTION_PER_DEGREE = 0.25  # of the code's width, as a held card turns (see ``shaken``)
KINDS = ("held", "glare", "motion_blur", "defocus", "tilt", "glare_blur_tilt", "dusk", "jpeg")
Quad = np.ndarray  # 4 x 2 float32: a code's corners in the frame
View = tuple[np.ndarray, Quad]  # a BGR frame and its code's corners


@dataclass(frozen=True)
class Printed:
    """A printed thing: its grey image at ``RENDER_PX_MM``, where its code is on it (x, y, w, h
    in mm, quiet zone excluded), the code's narrowest module in mm, and what the code holds."""

    image: np.ndarray
    code_mm: tuple[float, float, float, float]
    module_mm: float
    text: str
    kind: str  # QRCODE or CODE128


@cache
def shelf_label(payload: str, error: str) -> Printed:
    """The parcel label ``kiosk.printing`` prints for ``payload``, its QR at ``error``."""
    from kiosk.printing import SHEET, PrintedLabel, label_png

    household = HouseholdId.parse(payload.split(":")[1])
    label = PrintedLabel(ParcelLabel(household, payload.split(":")[2], payload), "某某小区",
                         date(2026, 4, 1))
    image = _decoded(label_png(label, dpi=round(RENDER_PX_MM * 25.4), error=error))
    # draw_label: the code's square (quiet zone included) 1 mm from the top and left edges
    return _qr_printed(image, payload, error, (1.0, 1.0), SHEET.height - 2)


@cache
def door_sticker(household: str, secret: bytes, error: str) -> Printed:
    """The door sticker ``kiosk.printing`` prints for ``household``, its QR at ``error``."""
    from kiosk.printing import STICKERS, DoorSticker, sticker_png

    payload = door_payload(secret, HouseholdId.parse(household))
    sticker = DoorSticker(HouseholdId.parse(household), payload, "某某小区")
    image = _decoded(sticker_png(sticker, dpi=round(RENDER_PX_MM * 25.4), error=error))
    # draw_sticker: a 50 mm square (quiet zone included), centred, 9 mm below the top
    return _qr_printed(image, payload, error, ((STICKERS.width - 50) / 2, 9.0), 50.0)


def _qr_printed(image: np.ndarray, payload: str, error: str, corner: tuple[float, float],
                side: float) -> Printed:
    """A printed QR code whose square (quiet zone included) is ``side`` mm at ``corner``."""
    from kiosk.printing import QUIET_MODULES

    count = len(qr_modules(payload, error))
    module = side / (count + 2 * QUIET_MODULES)
    inner = (corner[0] + QUIET_MODULES * module, corner[1] + QUIET_MODULES * module)
    return Printed(image, (*inner, count * module, count * module), module, payload, "QRCODE")


@cache
def waybill(number: str) -> Printed:
    """A carrier's waybill: white paper with the number's Code 128 and the number below it."""
    import zxingcpp

    bars = np.asarray(zxingcpp.create_barcode(number, zxingcpp.BarcodeFormat.Code128)
                      .to_image(scale=1, add_quiet_zones=True))[0]
    width_mm = len(bars) * WAYBILL_BAR_MM + 10
    height_mm = WAYBILL_HEIGHT_MM + 20
    image = np.full((round(height_mm * RENDER_PX_MM), round(width_mm * RENDER_PX_MM)), 250,
                    np.uint8)
    row = cv2.resize(bars[None, :], (round(len(bars) * WAYBILL_BAR_MM * RENDER_PX_MM), 1),
                     interpolation=cv2.INTER_NEAREST)
    top, left = 5 * RENDER_PX_MM, 5 * RENDER_PX_MM
    image[top:top + round(WAYBILL_HEIGHT_MM * RENDER_PX_MM), left:left + row.shape[1]] = row
    cv2.putText(image, number, (left + 10 * RENDER_PX_MM, image.shape[0] - 5 * RENDER_PX_MM),
                cv2.FONT_HERSHEY_SIMPLEX, 0.12 * RENDER_PX_MM, 20, RENDER_PX_MM // 4,
                cv2.LINE_AA)
    quiet = 10 * WAYBILL_BAR_MM
    code = (5 + quiet, 5.0, len(bars) * WAYBILL_BAR_MM - 2 * quiet, WAYBILL_HEIGHT_MM)
    return Printed(image, code, WAYBILL_BAR_MM, number, "CODE128")


def blank(printed: Printed) -> Printed:
    """The same paper with its code left out: a view that must read as nothing."""
    image = printed.image.copy()
    x, y, w, h = (round(v * RENDER_PX_MM) for v in printed.code_mm)
    pad = round(4 * printed.module_mm * RENDER_PX_MM)
    image[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad] = 250
    return replace(printed, image=image, text="")


def _decoded(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)


@dataclass(frozen=True)
class Shot:
    """How a printed thing is held and seen: the camera's frame size, the distance to the code
    (mm), the rotation in the card's plane and the tilts (degrees), where the code's centre is
    in the frame (fractions), how much light reaches the card (1: full) and the sensor's noise
    (grey levels)."""

    camera: tuple[int, int]
    distance_mm: float
    angle: float = 0.0
    tilt: tuple[float, float] = (0.0, 0.0)
    centre: tuple[float, float] = (0.5, 0.5)
    light: float = 1.0
    noise: float = 5.0
    fov: float = FOV  # the camera's view across, degrees

    @property
    def focal_px(self) -> float:
        return focal_px(self.camera, self.fov)

    def module_px(self, printed: Printed) -> float:
        """The code's narrowest module in pixels of the frame (square on)."""
        return self.focal_px * printed.module_mm / self.distance_mm


def focal_px(camera: tuple[int, int], fov: float = FOV) -> float:
    return camera[0] / 2 / math.tan(math.radians(fov) / 2)


def distance_for(printed: Printed, camera: tuple[int, int], module_px: float) -> float:
    """The distance (mm) at which the code's module is ``module_px`` pixels (at ``FOV``)."""
    return focal_px(camera) * printed.module_mm / module_px


@dataclass(frozen=True)
class Glare:
    """A reflection on the paper: centre (x, y) and radius as fractions of the code's box
    (the radius of its width), how washed out its centre is (1: blown out), its stretch."""

    x: float
    y: float
    radius: float
    strength: float = 0.95
    elongation: float = 1.0
    angle: float = 0.0


def covering(printed: Printed, fraction: float, x: float, y: float, *, strength: float,
             elongation: float, angle: float) -> Glare:
    """A glare centred at (x, y) of the code's box that washes at least half the contrast out
    of ``fraction`` of the code (found by bisection on its radius)."""
    _, _, w, h = printed.code_mm
    grid = np.zeros((max(4, round(64 * h / w)), 64), np.uint8)  # the code's box, 64 px across
    low, high = 0.001, 2.0
    for _ in range(24):
        radius = (low + high) / 2
        lit = glare(grid, x, y, radius=radius, strength=strength, elongation=elongation,
                    angle=angle)
        covered = float((lit >= 128).mean())
        low, high = (radius, high) if covered < fraction else (low, radius)
    return Glare(x, y, high, strength, elongation, angle)


def photograph(printed: Printed, shot: Shot, rng: np.random.Generator, *,
               reflection: Glare | None = None) -> tuple[np.ndarray, Quad]:
    """The BGR frame of ``printed`` held as ``shot`` says, with a reflection on it if given, and
    the code's four corners in the frame (the code's box, clockwise from its top left)."""
    width, height = shot.camera
    scale = shot.module_px(printed) / printed.module_mm  # px a mm at the code, square on
    card = cv2.resize(printed.image, None, fx=min(1.0, 1.5 * scale / RENDER_PX_MM),
                      fy=min(1.0, 1.5 * scale / RENDER_PX_MM), interpolation=cv2.INTER_AREA)
    px_mm = card.shape[1] / (printed.image.shape[1] / RENDER_PX_MM)  # of the resized card
    homography = _pose(printed, shot, px_mm)
    size = (width, height)
    paper = cv2.warpPerspective(card, homography, size, flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpPerspective(np.full(card.shape, 255, np.uint8), homography, size,
                               flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = (mask.astype(np.float32) / 255.0)[:, :, None]
    paper = (paper.astype(np.float32) * shot.light)[:, :, None]
    scene = (_desk(shot, rng) * (1 - alpha) + paper * alpha) * _lighting(shot, rng)
    if reflection is not None:  # a lamp's reflection is as bright in any light: drawn last
        wash = cv2.warpPerspective(_reflection(card.shape, px_mm, printed, reflection),
                                   homography, size, flags=cv2.INTER_LINEAR, borderValue=0)
        wash = (wash.astype(np.float32) / 255.0)[:, :, None]
        scene = scene * (1 - wash) + 255.0 * wash
    noisy = scene + rng.normal(0.0, shot.noise, scene.shape).astype(np.float32)
    x, y, w, h = printed.code_mm
    corners = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float32) * px_mm
    quad = cv2.perspectiveTransform(corners, homography)[0]
    return np.clip(noisy, 0, 255).astype(np.uint8), quad


def _reflection(shape: tuple[int, ...], px_mm: float, printed: Printed,
                reflection: Glare) -> np.ndarray:
    """How much the reflection washes each pixel of the card towards white (0-255)."""
    height_mm, width_mm = shape[0] / px_mm, shape[1] / px_mm
    x, y, w, h = printed.code_mm
    return glare(np.zeros(shape, np.uint8), (x + reflection.x * w) / width_mm,
                 (y + reflection.y * h) / height_mm, radius=reflection.radius * w / width_mm,
                 strength=reflection.strength, elongation=reflection.elongation,
                 angle=reflection.angle)


def _pose(printed: Printed, shot: Shot, px_mm: float) -> np.ndarray:
    """The homography from the resized card's pixels to the frame's."""
    width, height = shot.camera
    focal = shot.focal_px
    x, y, w, h = printed.code_mm
    to_code = np.array([[1 / px_mm, 0, -(x + w / 2)], [0, 1 / px_mm, -(y + h / 2)], [0, 0, 1]])
    a, tx, ty = (math.radians(v) for v in (shot.angle, *shot.tilt))
    spin = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    about_y = np.array([[math.cos(tx), 0, math.sin(tx)], [0, 1, 0],
                        [-math.sin(tx), 0, math.cos(tx)]])
    about_x = np.array([[1, 0, 0], [0, math.cos(ty), -math.sin(ty)],
                        [0, math.sin(ty), math.cos(ty)]])
    rotation = about_y @ about_x @ spin
    # The code's centre sits on the ray through shot.centre, at the shot's distance.
    ray = np.array([(shot.centre[0] - 0.5) * width / focal, (shot.centre[1] - 0.5) * height / focal,
                    1.0])
    placed = np.column_stack([rotation[:, 0], rotation[:, 1], ray * shot.distance_mm])
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    return camera @ placed @ to_code


def _desk(shot: Shot, rng: np.random.Generator) -> np.ndarray:
    """What is behind the card: a dim grey-brown surface with some clutter."""
    width, height = shot.camera
    desk = np.full((height, width, 3), (90, 105, 120), np.float32)
    for _ in range(int(rng.integers(0, 4))):  # boxes, tape, a sleeve: edges, not codes
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = (int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10,
                                                                             height // 3)))
        tone = tuple(float(v) for v in rng.uniform(40, 200, 3))
        cv2.rectangle(desk, (x0, y0), (x0 + size[0], y0 + size[1]), tone, -1)
    return desk * shot.light


def _lighting(shot: Shot, rng: np.random.Generator) -> np.ndarray:
    """Uneven light from one side, across the whole frame."""
    width, _ = shot.camera
    gradient = np.linspace(float(rng.uniform(0.7, 0.9)), 1.0, width, dtype=np.float32)
    if rng.random() < 0.5:
        gradient = gradient[::-1]
    return gradient[None, :, None]


def random_shot(printed: Printed, rng: np.random.Generator, *,
                camera: tuple[int, int] | None = None,
                tilt: tuple[float, float] | None = None) -> Shot:
    """A shot (at either camera unless given), the code's module in ``MODULE_PX`` (bars:
    ``BAR_PX``), held near the middle, at any rotation (a waybill roughly level), fair light."""
    camera = camera or CAMERAS[int(rng.integers(len(CAMERAS)))]
    low, high = BAR_PX if printed.kind == "CODE128" else MODULE_PX
    module = float(rng.uniform(low, high))
    angle = float(rng.uniform(-20, 20) if printed.kind == "CODE128" else rng.uniform(-180, 180))
    slight = (float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10)))
    return Shot(camera, distance_for(printed, camera, module), angle, tilt or slight,
                (float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6))),
                float(rng.uniform(0.6, 1.0)), float(rng.uniform(3.0, 7.0)))


def _steep(rng: np.random.Generator, low: float, high: float) -> tuple[float, float]:
    sign = rng.choice([-1.0, 1.0], size=2)
    return float(sign[0] * rng.uniform(low, high)), float(sign[1] * rng.uniform(0, high / 2))


def random_glare(printed: Printed, rng: np.random.Generator,
                 fraction: tuple[float, float] = (0.10, 0.40)) -> Glare:
    """A reflection covering ``fraction`` of the code, centred anywhere on it."""
    return covering(printed, float(rng.uniform(*fraction)), float(rng.uniform(0, 1)),
                    float(rng.uniform(0, 1)), strength=float(rng.uniform(0.85, 1.0)),
                    elongation=float(rng.uniform(1.0, 3.0)), angle=float(rng.uniform(0, 180)))


@dataclass(frozen=True)
class Recipe:
    """One view, drawn: the shot, and what spoils it. ``smear`` is a motion blur (length in
    modules, direction in degrees), ``blur`` a defocus (the disc's diameter in modules),
    ``dusk`` the share of light left, ``quality`` a JPEG round trip."""

    printed: Printed
    shot: Shot
    reflection: Glare | None = None
    smear: tuple[float, float] | None = None
    blur: float = 0.0
    dusk: float = 1.0
    quality: int = 0


def draw_view(printed: Printed, kind: str, rng: np.random.Generator, *,
              camera: tuple[int, int] | None = None) -> Recipe:
    """A view of ``printed`` spoiled as ``kind`` says (see the module's docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown view kind {kind!r}; kinds: {', '.join(KINDS)}")
    tilt = _steep(rng, 30, 55) if kind == "tilt" else \
        _steep(rng, 15, 40) if kind == "glare_blur_tilt" else None
    recipe = Recipe(printed, random_shot(printed, rng, camera=camera, tilt=tilt))
    if kind == "glare":
        recipe = replace(recipe, reflection=random_glare(printed, rng))
    elif kind == "motion_blur":
        recipe = replace(recipe, smear=(float(rng.uniform(0.3, 1.0)),
                                        float(rng.uniform(0, 180))))
    elif kind == "defocus":
        recipe = replace(recipe, blur=float(rng.uniform(0.4, 1.0)))
    elif kind == "glare_blur_tilt":
        recipe = replace(recipe, reflection=random_glare(printed, rng, (0.10, 0.30)),
                         smear=(float(rng.uniform(0.2, 0.6)), float(rng.uniform(0, 180))))
    elif kind == "dusk":
        recipe = replace(recipe, dusk=float(rng.uniform(0.05, 0.15)))
    elif kind == "jpeg":
        recipe = replace(recipe, quality=int(rng.integers(10, 30)))
    return recipe


def render(recipe: Recipe, rng: np.random.Generator) -> View:
    """The frame a recipe makes, and its code's corners."""
    frame, quad = photograph(recipe.printed, recipe.shot, rng, reflection=recipe.reflection)
    module = recipe.shot.module_px(recipe.printed)
    if recipe.smear is not None:
        frame = motion_blur(frame, max(2, round(recipe.smear[0] * module)), recipe.smear[1])
    if recipe.blur:
        frame = defocus(frame, recipe.blur * module / 2)
    if recipe.dusk < 1.0:
        frame = low_light(frame, recipe.dusk, rng)
    if recipe.quality:
        frame = jpeg(frame, recipe.quality)
    return frame, quad


def view(printed: Printed, kind: str, rng: np.random.Generator, *,
         camera: tuple[int, int] | None = None) -> View:
    """One frame of ``printed`` spoiled as ``kind`` says, and its code's corners."""
    return render(draw_view(printed, kind, rng, camera=camera), rng)


def shaken(recipe: Recipe, rng: np.random.Generator) -> Recipe:
    """The same view a moment later, held by a hand: the card moved a pixel or two and turned
    a little, the light a little different, a reflection moved with the card's turn (a
    mirror's image moves twice as fast as the mirror turns), a smear in a new direction."""
    shot = recipe.shot
    width, height = shot.camera
    step = rng.normal(0, 1.5, 2) / (width, height)
    turn = rng.normal(0, 0.5, 3)  # degrees: in plane, about the vertical, the horizontal
    shot = replace(shot, centre=(shot.centre[0] + float(step[0]), shot.centre[1] + float(step[1])),
                   angle=shot.angle + float(turn[0]),
                   tilt=(shot.tilt[0] + float(turn[1]), shot.tilt[1] + float(turn[2])),
                   light=float(np.clip(shot.light * rng.normal(1, 0.04), 0.3, 1.0)))
    reflection = recipe.reflection
    if reflection is not None:
        # A lamp 50 cm from the card, the camera 35 cm: turning the card 1 degree turns the
        # lamp's mirror image 2 degrees about it (1.7 cm), which moves the reflection seen on
        # the card by 35 / 85 of that: 7 mm, a quarter of a label's 28 mm code.
        reflection = replace(reflection, x=reflection.x + REFLECTION_PER_DEGREE * float(turn[1]),
                             y=reflection.y + REFLECTION_PER_DEGREE * float(turn[2]))
    smear = recipe.smear
    if smear is not None:
        smear = (smear[0] * float(rng.uniform(0.6, 1.0)), smear[1] + float(rng.normal(0, 30)))
    return replace(recipe, shot=shot, reflection=reflection, smear=smear)


def held(recipe: Recipe, count: int, rng: np.random.Generator) -> list[View]:
    """``count`` frames of a view held still by a hand (see ``shaken``)."""
    views, now = [], recipe
    for _ in range(count):
        views.append(render(now, rng))
        now = shaken(now, rng)
    return views
