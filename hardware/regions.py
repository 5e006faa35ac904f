"""Regions of a frame: where a code was seen but not read, that the slower help works on.

The help (thresholds, ZBar, several frames fused) costs in proportion to the pixels it is
given, so it is given the regions where zxing-cpp saw a code, never the whole frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

Grey = np.ndarray

MAX_REGIONS = 3  # a frame holds a label and perhaps a waybill: more is clutter


@dataclass(frozen=True)
class Box:
    """A region of a frame, in its pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def around(cls, points: Iterable[tuple[float, float]]) -> Box:
        xs, ys = zip(*points, strict=True)
        x0, y0 = int(min(xs)), int(min(ys))
        return cls(x0, y0, int(max(xs)) - x0 + 1, int(max(ys)) - y0 + 1)

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def widened(self, dx: float, dy: float) -> Box:
        """The box widened by ``dx`` px left and right and ``dy`` px above and below."""
        return Box(round(self.x - dx), round(self.y - dy), round(self.w + 2 * dx),
                   round(self.h + 2 * dy))

    def union(self, other: Box) -> Box:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def grown(self, share: float, shape: tuple[int, ...]) -> Box:
        """The box grown by ``share`` of its longer side on every side, within the frame."""
        pad = int(share * max(self.w, self.h)) + 4
        x0, y0 = max(0, self.x - pad), max(0, self.y - pad)
        x1, y1 = min(shape[1], self.x + self.w + pad), min(shape[0], self.y + self.h + pad)
        return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def cut(self, grey: Grey) -> Grey:
        return grey[self.y:self.y + self.h, self.x:self.x + self.w]

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)

    def scaled(self, fx: float, fy: float | None = None) -> Box:
        """The box in pixels ``fx`` (across) and ``fy`` (down; ``fx`` if not given) larger."""
        fy = fx if fy is None else fy
        return Box(round(self.x * fx), round(self.y * fy), round(self.w * fx),
                   round(self.h * fy))


def qr_side(version: int) -> int:
    """Modules a side of a QR code of ``version`` (1..40): 21, 25, ... 177."""
    return 17 + 4 * version


@dataclass(frozen=True)
class Outline:
    """A QR code found but not read: its four outer corners (top left, top right, bottom
    right, bottom left of the symbol, in a look's pixels) and its version."""

    corners: np.ndarray
    version: int
    guesses: int = 1  # of how many outlines guessed for one code this is one (1: found)

    @property
    def module_px(self) -> float:
        """A module's width along the top edge, in pixels."""
        return float(np.linalg.norm(self.corners[1] - self.corners[0])) / qr_side(self.version)

    def near(self, other: Outline, within_px: float) -> bool:
        """The same version, every corner within ``within_px``: the same code placed alike."""
        return (other.version == self.version and
                float(np.abs(other.corners - self.corners).max()) < within_px)

    def moved(self, scale: float = 1.0, x: float = 0.0, y: float = 0.0) -> Outline:
        """The outline in the pixels of an image ``scale`` times larger, offset by (x, y)."""
        return Outline(self.corners * scale + np.array([x, y], np.float32), self.version,
                       self.guesses)


def merged(boxes: Iterable[Box]) -> list[Box]:
    """The boxes, those that overlap joined into one, the largest first (``MAX_REGIONS``)."""
    out: list[Box] = []
    for box in boxes:
        for index, known in enumerate(out):
            if known.overlaps(box):
                out[index] = known.union(box)
                break
        else:
            out.append(box)
    out.sort(key=lambda box: -box.w * box.h)
    return out[:MAX_REGIONS]
