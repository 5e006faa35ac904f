"""Whole presentations: a courier's label moving into view, held, tilted, glare sweeping across.

A presentation is about a second of camera frames (``fps`` of them): the card slides in from
outside the view and slows to a stop (motion-blurred while it moves), then is held with a
hand's jitter. Its kind says what else happens: ``slide_in`` (held square-on), ``tilted``
(held at 25-50 degrees), ``glare`` (a reflection sweeps across the card while it is held),
``tilted_glare`` (both). The frames are drawn from the label card of ``label_video`` and spoiled
with ``degrade`` (tilt, glare, motion blur), so the benchmark and the tests measure the kiosk
on what a camera at the gate would see. ``held_hard`` is another kind of second: the shelf's
label as printed, seen one hard way (``gate_views``: glare over up to 40 % of the code, a
smear, defocus, a steep tilt, dusk...) and held still for ``HELD_FRAMES`` frames, only the
hand's shake, the light and the noise changing. A presentation is a small frozen recipe: its
frames are rendered on demand (``frames``), the same ones for the same recipe.

``write_presentations_video`` writes them as an MJPG video, a replayed camera for
``shelf run``; ``PresentationCamera`` replays them straight from memory, paced like a camera or
frame by frame, and notes when each frame was handed over (``kiosk.app.sim.rig`` scores them).
``readable_by_any`` says whether any decoder we know (ZBar, zxing-cpp) reads a frame: the
first such frame of a presentation is where the kiosk's reaction is counted from.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from kiosk.app.sim import gate_views
from kiosk.app.sim.degrade import glare, motion_blur, perspective
from kiosk.app.sim.label_video import FRAME_SIZE, qr_matrix

KINDS = ("slide_in", "tilted", "glare", "tilted_glare")  # the card moves into view
HELD_HARD = "held_hard"  # one hard view of the shelf's printed label, held still
HELD_FRAMES = 10
HARD_VIEWS = tuple(k for k in gate_views.KINDS if k != "held")
DEFAULT_FPS = 25
NOISE_BANK = 4  # sensor noise fields drawn once and reused (drawing it per frame is slow) ...
NOISE_ROWS = 64  # ... each from a row picked at random
NOISE_SIGMA = 6.0
ENTER_FROM_PX = 620  # how far from where it is held the card starts: outside the view
MAX_BLUR_PX = 40  # the smear of the fastest hand at a camera's 1/50 s exposure


@dataclass(frozen=True)
class Presentation:
    """One label held up: where it enters, where it is held, how it is tilted, the glare."""

    payload: str
    kind: str
    frames_count: int
    seed: int
    enter_frames: int  # frames the card takes to slide in and stop
    start: tuple[float, float]  # the card's centre when the presentation begins (off view)
    held: tuple[float, float]  # ... and where it is held
    angle: float  # in-plane rotation, degrees
    scale: float
    tilt: tuple[float, float]  # degrees about the vertical and the horizontal axis
    glare_from: tuple[float, float] | None  # the reflection's path over the card (fractions)
    glare_to: tuple[float, float] | None
    glare_radius: float
    glare_strength: float
    light: float  # how much light reaches the card (1: full)
    caption: str = ""
    camera: tuple[int, int] = FRAME_SIZE  # the frames' width and height
    view: str = ""  # held_hard: the hard view (a kind of gate_views) that is held


def draw(payload: str, kind: str, rng: np.random.Generator, *, fps: int = DEFAULT_FPS,
         seconds: float = 1.0, caption: str = "",
         camera: tuple[int, int] = FRAME_SIZE) -> Presentation:
    """A presentation of ``kind`` with its details drawn from ``rng``.

    ``held_hard``: the shelf's label as printed, seen as one of ``HARD_VIEWS`` (drawn), held
    still for ``HELD_FRAMES`` frames by a hand (``gate_views.held``): the hand's shake, the
    light and the noise change from frame to frame, and a reflection moves as the card turns.
    """
    if kind == HELD_HARD:
        view = HARD_VIEWS[int(rng.integers(len(HARD_VIEWS)))]
        return Presentation(payload, kind, HELD_FRAMES, int(rng.integers(2**31)), 0,
                            (0.0, 0.0), (0.0, 0.0), 0.0, 1.0, (0.0, 0.0), None, None, 0.0,
                            0.0, 1.0, caption, camera, view)
    if kind not in KINDS:
        raise ValueError(f"unknown presentation kind {kind!r}; kinds: "
                         f"{', '.join((*KINDS, HELD_HARD))}")
    width, height = camera
    count = max(8, round(fps * seconds))
    held = (width / 2 + float(rng.uniform(-70, 70)), height / 2 + float(rng.uniform(-35, 35)))
    side = float(rng.uniform(0, 2 * math.pi))  # the card comes in from any side, out of view
    start = (held[0] + math.cos(side) * ENTER_FROM_PX, held[1] + math.sin(side) * ENTER_FROM_PX)
    tilted = kind.startswith("tilted")
    sign = rng.choice([-1.0, 1.0], size=2)
    tilt = ((float(sign[0] * rng.uniform(25, 50)), float(sign[1] * rng.uniform(0, 25)))
            if tilted else (float(rng.uniform(-8, 8)), float(rng.uniform(-8, 8))))
    glare_from = glare_to = None
    if kind.endswith("glare"):  # it may lie on the code as the card stops; it moves across
        x0, y0, y1 = float(rng.uniform(-0.3, 0.3)), *(float(v) for v in rng.uniform(0.2, 0.8, 2))
        glare_from, glare_to = (x0, y0), (x0 + float(rng.uniform(1.2, 1.6)), y1)
        if rng.random() < 0.5:  # from the other side
            glare_from, glare_to = (1 - glare_from[0], y0), (1 - glare_to[0], y1)
    return Presentation(
        payload=payload, kind=kind, frames_count=count, seed=int(rng.integers(2**31)),
        enter_frames=max(3, round(count * float(rng.uniform(0.2, 0.32)))),
        start=start, held=held, angle=float(rng.uniform(-15, 15)),
        scale=float(rng.uniform(0.8, 1.05)), tilt=tilt, glare_from=glare_from,
        glare_to=glare_to, glare_radius=float(rng.uniform(0.1, 0.2)),
        glare_strength=float(rng.uniform(0.8, 1.0)), light=float(rng.uniform(0.7, 1.0)),
        caption=caption, camera=camera)


def draw_many(payloads: Sequence[str], seed: int, *, fps: int = DEFAULT_FPS,
              kinds: Sequence[str] = KINDS,
              camera: tuple[int, int] = FRAME_SIZE) -> list[Presentation]:
    """One presentation per payload, the kinds taken in turn."""
    rng = np.random.default_rng(seed)
    return [draw(payload, kinds[i % len(kinds)], rng, fps=fps, camera=camera)
            for i, payload in enumerate(payloads)]


def frames(presentation: Presentation) -> Iterator[np.ndarray]:
    """The presentation's BGR frames (``presentation.camera`` in size), rendered one by one."""
    p = presentation
    rng = np.random.default_rng(p.seed)
    if p.kind == HELD_HARD:
        yield from _held_hard(p, rng)
        return
    card, mask = _tilted_card(p.payload, p.caption, p.tilt)
    card = (card.astype(np.float32) * p.light).astype(np.uint8)  # the light on the card
    desk = _desk(rng, p.camera)
    pose = np.array(p.held)
    previous: np.ndarray | None = None
    sweep = max(1, p.frames_count - p.enter_frames + 1)
    for index in range(p.frames_count):
        if index <= p.enter_frames:  # slide in, slowing to a stop (ease-out)
            t = 1.0 - (1.0 - index / p.enter_frames) ** 3
            centre = np.array(p.start) + (np.array(p.held) - np.array(p.start)) * t
        else:  # held by a hand: a little jitter
            pose = pose + rng.normal(0, 1.5, 2)
            centre = pose
        shown = card
        if p.glare_from is not None and p.glare_to is not None:
            f = max(0.0, (index - p.enter_frames + 1) / sweep)
            x = p.glare_from[0] + (p.glare_to[0] - p.glare_from[0]) * f
            y = p.glare_from[1] + (p.glare_to[1] - p.glare_from[1]) * f
            shown = glare(card, x, y, radius=p.glare_radius, strength=p.glare_strength,
                          elongation=1.8, angle=30.0)
        frame, box = _place(desk, shown, mask, centre, p.angle, p.scale)
        if previous is not None and box is not None:  # a card moving during the exposure smears
            step = centre - previous
            length = min(MAX_BLUR_PX, int(np.hypot(*step) * 0.5))
            if length > 1:
                _blur_around(frame, box, length, math.degrees(math.atan2(-step[1], step[0])))
        previous = centre
        yield _noisy(frame, rng)


def _held_hard(p: Presentation, rng: np.random.Generator) -> Iterator[np.ndarray]:
    from kiosk.printing import LABEL_ERROR

    printed = gate_views.shelf_label(p.payload, LABEL_ERROR)
    recipe = gate_views.draw_view(printed, p.view, rng, camera=p.camera)
    for _ in range(p.frames_count):
        yield gate_views.render(recipe, rng)[0]
        recipe = gate_views.shaken(recipe, rng)


def readable_by_any(frame: np.ndarray, payload: str, *, zbar: bool = True) -> bool:
    """True when zxing-cpp or ZBar reads ``payload`` in the frame (the kiosk's ideal).

    ``zbar=False`` leaves ZBar out, for a frame it was already asked about.
    """
    import zxingcpp

    from hardware.decoder import ZbarDecoder

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128)
    if any(b.text == payload for b in zxingcpp.read_barcodes(grey, formats=formats)):
        return True  # the cheaper one first
    expected = payload.encode()
    return zbar and any(s.data == expected for s in _zbar(ZbarDecoder).decode(grey))


def write_presentations_video(path: Path, presentations: Sequence[Presentation], *,
                              fps: int = DEFAULT_FPS) -> Path:
    """Write the presentations one after another as an MJPG .avi at ``path``."""
    size = presentations[0].camera if presentations else FRAME_SIZE
    if any(p.camera != size for p in presentations):
        raise ValueError("a video's presentations must all be of one frame size")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write a video at {path}")
    try:
        for presentation in presentations:
            for frame in frames(presentation):
                writer.write(frame)
    finally:
        writer.release()
    return path


class PresentationCamera:
    """Presentations replayed as the kiosk's camera (a FrameSource), one after another.

    ``paced``: frame i is handed over i/fps after the first, like a live camera (the kiosk then
    takes the newest); otherwise each frame when asked (every frame is decoded). Frames are
    rendered in ``read``, about what decoding an MJPG USB camera's frame costs. ``between(i)``
    runs before presentation i's first frame; ``done()`` says the current presentation has been
    read: ``tail_frames`` more of it are shown, then the next one begins.
    """

    def __init__(self, presentations: Sequence[Presentation], *, fps: int = DEFAULT_FPS,
                 paced: bool = True, tail_frames: int = 3,
                 between: Callable[[int], None] | None = None) -> None:
        self.presentations, self.fps, self.paced = presentations, fps, paced
        self.tail_frames, self.between = tail_frames, between
        self.delivered = 0  # frames handed over
        self.handed_at: dict[int, float] = {}  # frame number -> time.perf_counter() handed over
        self.starts: list[int] = []  # the frame number of each presentation's first frame
        self.current = -1  # the presentation being shown
        self.shown: list[np.ndarray] = []  # its frames handed over so far (when ``keep``)
        self.keep = False
        self._frames: Iterator[np.ndarray] = iter(())
        self._left = -1  # frames still to show after done(); -1: not read yet
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=64)
        self._start: float | None = None

    def read(self) -> np.ndarray | None:
        frame = self._next_frame()
        if frame is None:
            return None
        if self.paced:
            self._pace()
        self.delivered += 1
        if self.keep:
            self.shown.append(frame)
        self._recent.append((self.delivered, frame))
        self.handed_at[self.delivered] = time.perf_counter()
        return frame

    def done(self) -> None:
        """The current presentation was read: show a few more of its frames, then move on."""
        if self._left < 0:
            self._left = self.tail_frames

    def number_of(self, frame: np.ndarray) -> int | None:
        """The frame number of a frame handed over lately (None when it is too old)."""
        return next((n for n, f in reversed(self._recent) if f is frame), None)

    def presentation_of(self, number: int) -> int:
        """Which presentation frame ``number`` belongs to."""
        index = 0
        while index + 1 < len(self.starts) and self.starts[index + 1] <= number:
            index += 1
        return index

    def close(self) -> None:
        """Nothing to release: the frames are drawn in memory."""

    def _next_frame(self) -> np.ndarray | None:
        while True:
            if self._left != 0:
                frame = next(self._frames, None)
                if frame is not None:
                    self._left -= 1 if self._left > 0 else 0
                    return frame
            if self.current + 1 >= len(self.presentations):
                return None
            self.current += 1
            if self.between is not None:
                self.between(self.current)
            self.shown = []
            self.starts.append(self.delivered + 1)
            self._frames, self._left = frames(self.presentations[self.current]), -1

    def _pace(self) -> None:
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        delay = self._start + self.delivered / self.fps - now
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:  # far behind (a slow start): start the schedule again from now
            self._start = now - self.delivered / self.fps


@cache
def _zbar(make):  # one decoder per process: ZBar's symbol table is built once
    return make()


@cache
def _noise_bank(camera: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Fields of sensor noise, split into what brightens and what darkens (saturating adds)."""
    width, height = camera
    rng = np.random.default_rng(2304)
    noise = rng.normal(0, NOISE_SIGMA, (NOISE_BANK, height + NOISE_ROWS, width, 3))
    return (np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8))


def _noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    brighter, darker = _noise_bank((frame.shape[1], frame.shape[0]))
    field, row = int(rng.integers(NOISE_BANK)), int(rng.integers(NOISE_ROWS))
    rows = slice(row, row + frame.shape[0])
    return cv2.subtract(cv2.add(frame, brighter[field, rows]), darker[field, rows])


def _desk(rng: np.random.Generator, camera: tuple[int, int]) -> np.ndarray:
    """The empty view: a dim desk, lit unevenly from one side."""
    width, height = camera
    desk = np.full((height, width, 3), (90, 105, 120), dtype=np.float32)
    gradient = np.linspace(float(rng.uniform(0.75, 0.9)), 1.0, width)[None, :, None]
    if rng.random() < 0.5:
        gradient = gradient[:, ::-1]
    return (desk * gradient).astype(np.uint8)


@cache
def _tilted_card(payload: str, caption: str, tilt: tuple[float, float]):
    """The label card and its mask, seen tilted, on a transparent margin."""
    code = qr_matrix(payload, module_px=6)
    side = code.shape[0]
    card = np.full((side + 60, side + 40, 3), 245, dtype=np.uint8)
    card[10:10 + side, 20:20 + side] = code[:, :, None]
    cv2.putText(card, caption[:24], (20, side + 45), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (30, 30, 30), 2, cv2.LINE_AA)
    margin = side // 2  # room for the tilted card to grow into
    canvas = cv2.copyMakeBorder(card, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                                value=(0, 0, 0))
    mask = np.zeros(canvas.shape[:2], np.uint8)
    mask[margin:-margin, margin:-margin] = 255
    if any(tilt):
        canvas = perspective(canvas, tilt[0], tilt[1])
        mask = perspective(mask, tilt[0], tilt[1])
    x, y, w, h = cv2.boundingRect(mask)  # glare is drawn per frame: on the card alone
    return canvas[y:y + h, x:x + w].copy(), mask[y:y + h, x:x + w].copy()


def _place(desk: np.ndarray, card: np.ndarray, mask: np.ndarray, centre: np.ndarray,
           angle: float, scale: float) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """The desk with the card laid on it at ``centre``, rotated and scaled; and the box
    (x, y, w, h) the card covers in the view (None when it is out of view)."""
    height, width = desk.shape[:2]
    ch, cw = card.shape[:2]
    matrix = cv2.getRotationMatrix2D((cw / 2, ch / 2), angle, scale)
    matrix[:, 2] += (centre[0] - cw / 2, centre[1] - ch / 2)
    corners = cv2.transform(np.array([[[0, 0], [cw, 0], [0, ch], [cw, ch]]], np.float32),
                            matrix)[0]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    out = desk.copy()
    if x0 >= x1 or y0 >= y1:
        return out, None
    matrix[:, 2] -= (x0, y0)  # warp into the card's box only: a fraction of the view
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(card, matrix, size)
    alpha = cv2.warpAffine(mask, matrix, size)
    np.copyto(out[y0:y1, x0:x1], warped, where=alpha[:, :, None] > 127)
    return out, (x0, y0, x1 - x0, y1 - y0)


def _blur_around(frame: np.ndarray, box: tuple[int, int, int, int], length: int,
                 angle: float) -> None:
    """Smear the card's box (and as far around as the smear reaches) in place."""
    height, width = frame.shape[:2]
    x, y, w, h = box
    x0, y0 = max(0, x - length), max(0, y - length)
    x1, y1 = min(width, x + w + length), min(height, y + h + length)
    frame[y0:y1, x0:x1] = motion_blur(frame[y0:y1, x0:x1], length, angle)
