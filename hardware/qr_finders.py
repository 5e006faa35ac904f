"""Where a QR code may lie when a glare has hidden one of its three finder patterns.

zxing-cpp needs all three finders to place a QR code; a reflection over one leaves it only
"pieces" (a finder and what is around it, reported as a Micro QR code). Two finders still fix
the code up to a few choices: they are two corners of it, side by side or across, and the
third lies square to them on one side or the other. ``outlines`` gives every such choice
(with the version the finders' distance and size say, and its neighbours), each to be tried
by ``hardware.qr_erasure``, which verifies it; a wrong guess reads nothing.

A finder is found as the standard describes it and as OpenCV's contours show it: a dark ring
around a light ring around a dark square, the whole 7 modules across, the square 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from hardware.qr_erasure import MAX_VERSION, function_pattern
from hardware.regions import qr_side

Grey = np.ndarray

MAX_FINDERS = 4  # in one region: more is a pattern of squares, not a code


@dataclass(frozen=True)
class Finder:
    """A finder pattern: its centre (px) and its module (px)."""

    x: float
    y: float
    module: float


def finders(binary: Grey) -> list[Finder]:
    """The finder patterns in a black (0) and white (255) image."""
    contours, hierarchy = cv2.findContours(255 - binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    tree = hierarchy[0]
    found = []
    for index, contour in enumerate(contours):
        hole = tree[index][2]  # the light ring inside the dark one
        if hole < 0 or tree[hole][2] < 0:
            continue
        core = tree[hole][2]  # the dark square inside the light ring
        outer = cv2.contourArea(contour)
        inner = cv2.contourArea(contours[core])
        # 49 : 9 square on; the tilt and the blur shift it, not by half.
        if inner < 4 or not 3.0 < outer / inner < 9.0 or not _square(contour):
            continue
        moments = cv2.moments(contours[core])
        if moments["m00"] == 0:
            continue
        found.append(Finder(moments["m10"] / moments["m00"], moments["m01"] / moments["m00"],
                            math.sqrt(outer) / 7))
    return _distinct(found)[:MAX_FINDERS]


def _square(contour: np.ndarray) -> bool:
    """Roughly as tall as wide (a finder seen at up to 60 degrees)."""
    (_, _), (w, h), _ = cv2.minAreaRect(contour)
    return min(w, h) > 0.4 * max(w, h)


def _distinct(found: list[Finder]) -> list[Finder]:
    """One finder per place (a blurred ring may nest twice)."""
    out: list[Finder] = []
    for finder in sorted(found, key=lambda f: -f.module):
        if all(math.hypot(f.x - finder.x, f.y - finder.y) > 3 * f.module for f in out):
            out.append(finder)
    return out


def outlines(found: list[Finder]) -> list[tuple[np.ndarray, int]]:
    """Every outline (corners, version) that two or three of ``found`` could belong to."""
    out: list[tuple[np.ndarray, int]] = []
    for i, a in enumerate(found):
        for b in found[i + 1:]:
            out += _from_pair(a, b)
    return out


def placed(grey: Grey, found: list[Finder]) -> list[tuple[np.ndarray, int]]:
    """The outlines of ``outlines`` whose fixed modules (finders, timing, alignment) fit the
    image best, each refitted (``refined``), the best fitting first: ``DECODED`` of them.

    They are chosen without looking at a data module, so only those decoded count as guesses
    against the decoder's verification."""
    guesses = sorted(outlines(found), key=lambda o: -fit(grey, *o))[:REFINED]
    fitted = [(*refined(grey, corners, version), version) for corners, version in guesses]
    fitted.sort(key=lambda f: -f[1])
    return [(corners, version) for corners, _, version in fitted[:DECODED]]


REFINED = 3  # the best fitting guesses refitted
DECODED = 3  # ... and of those, the best fitting decoded


def _from_pair(a: Finder, b: Finder) -> list[tuple[np.ndarray, int]]:
    """The outlines of a code two of whose finders are ``a`` and ``b``: side by side (the
    third square to either, on either side) or across (the top left between them)."""
    module = (a.module + b.module) / 2
    if not 0.5 < a.module / b.module < 2.0:
        return []
    pa, pb = np.array([a.x, a.y]), np.array([b.x, b.y])
    out = []
    side = float(np.linalg.norm(pb - pa))
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])  # 90 degrees clockwise on the screen (y down)
    for across in (False, True):
        span = side / math.sqrt(2) if across else side
        version = round((span / module + 7 - 17) / 4)
        for v in (version - 1, version, version + 1):
            if not 1 <= v <= MAX_VERSION:
                continue
            if across:  # a and b are the top right and the bottom left, in either order
                for tr, bl in ((pa, pb), (pb, pa)):
                    # BL - TL is TR - TL turned square: that puts TL here.
                    tl = (tr + bl) / 2 - turn @ ((tr - bl) / 2)
                    out.append((_corners(tl, tr, bl, v), v))
            else:  # one of them is the top left; the third is square to the other
                for tl, other in ((pa, pb), (pb, pa)):
                    third = tl + turn @ (other - tl)
                    # other is the top right (third the bottom left), or the other way round
                    out.append((_corners(tl, other, third, v), v))
                    out.append((_corners(tl, tl - turn @ (other - tl), other, v), v))
    return out


def _corners(tl: np.ndarray, tr: np.ndarray, bl: np.ndarray, version: int) -> np.ndarray:
    """The symbol's outer corners from its three finders' centres (an affine fit)."""
    size = qr_side(version)
    near, far = 3.5, size - 3.5
    affine = cv2.getAffineTransform(np.array([[near, near], [far, near], [near, far]],
                                             np.float32),
                                    np.array([tl, tr, bl], np.float32))
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    return cv2.transform(square[None], affine)[0]


def fit(grey: Grey, corners: np.ndarray, version: int) -> float:
    """How well the modules whose colour the standard fixes (finders, timing, alignment)
    match the image through these corners: the correlation of their grey with their colour."""
    points, light = _fixed(version)
    size = qr_side(version)
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    try:
        warp = cv2.getPerspectiveTransform(square, np.asarray(corners, np.float32))
    except cv2.error:
        return -1.0
    seen = cv2.perspectiveTransform(points[None], warp)[0]
    values = cv2.remap(grey, seen[:, 0].reshape(1, -1), seen[:, 1].reshape(1, -1),
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    if values.std() == 0:
        return -1.0
    return float(np.corrcoef(values.astype(np.float32), light)[0, 1])


@cache
def _fixed(version: int) -> tuple[np.ndarray, np.ndarray]:
    """The centres (in modules) of a version's fixed modules, and which of them are light."""
    known, dark = function_pattern(version)
    rows, cols = np.nonzero(known)
    points = np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float32)
    return points, (~dark[rows, cols]).astype(np.float32)


def refined(grey: Grey, corners: np.ndarray, version: int) -> tuple[np.ndarray, float]:
    """The corners moved, one at a time and by ever smaller steps, while the fixed modules
    fit better (a guess from two finders ignores the perspective: the far corners drift)."""
    best = np.asarray(corners, np.float32).copy()
    score = fit(grey, best, version)
    module = float(np.linalg.norm(best[1] - best[0])) / qr_side(version)
    for step in REFINE_STEPS:
        for _ in range(REFINE_ROUNDS):
            moved = False
            for corner in range(4):
                for shift in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    trial = best.copy()
                    trial[corner] += np.array(shift, np.float32) * step * module
                    if (trial_score := fit(grey, trial, version)) > score:
                        best, score, moved = trial, trial_score, True
            if not moved:
                break
    return best, score


REFINE_STEPS = (1.0, 0.5, 0.25)  # modules
REFINE_ROUNDS = 8  # at most, at each step
