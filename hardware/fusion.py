"""Several frames of a label held up, read together when no single one can be read.

A courier holds a parcel to the camera for about a second: 20-25 frames of the same label,
with the glare, the blur and the noise changing between them as the hand shakes. A reflection
moves over the card as it turns (a quarter of the code per degree, see
``kiosk.app.sim.gate_views.shaken``), so a module washed out in one frame is seen in another.

``Fusion`` keeps the last frames in which a code was seen but not read (and the few after,
while it is likely still there: glare may hide it from the detector in some of them). When
asked, it cuts the region where the code was seen last out of each, aligns every cut to the
newest by phase correlation (a hand moves a card by a few pixels between frames, and hardly
turns it), and combines them pixel by pixel: each cut is first divided by its own local white,
so that a frame's light does not count, then the combination keeps, for each pixel, the mean
of the darker half of the frames (a reflection only ever brightens: it is left out wherever it
lies on fewer than half of them, and the mean of the rest averages the noise away). The fused
cut is then read like any patch (``DecoderChain``'s rescue).

Before that, the module grids are voted (``voted``): in each kept frame where the QR code's
outline is known (zxing-cpp's corners of a code it could not read, or one placed from the
finders a glare left, ``hardware.qr_finders``), its grid is sampled through that outline
(``qr_erasure.sample``: each module dark or light and how sure), so the frames need no
aligning and a card turning in the hand (which a shift cannot align) does not blur it; per
module the frames' confidences are weighed (``qr_erasure.vote``), and the voted grid is
decoded with its least sure codewords erased, under the same verification as one frame's,
the bar raised by the number of placements voted. Two frames are enough to vote.

An empty view costs nothing here: frames are kept only once a code was seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hardware import qr_erasure, qr_finders
from hardware.regions import Box, Outline, qr_side

Grey = np.ndarray

DEPTH = 10  # frames fused at most: 0.4 s at 25 fps
LINGER = 4  # frames still kept after the last one in which a code was seen
MIN_FRAMES = 3  # fewer frames than this fuse into nothing better than one
MIN_VOTERS = 2  # frames of one placement: two already let a glare in one be outvoted
MAX_VOTES = 4  # placements voted at most: the code found, and a few guessed from two finders
SAME_PLACE = 2.0  # modules: outlines whose corners lie this close place the code alike
SEARCH_MARGIN = 0.25  # of the region's longer side: room for the hand's shake
MIN_MATCH = 0.05  # phase correlation's peak below this: the cut shows something else
WHITE_PX = 31  # the window (px) in which a cut's local white is measured


@dataclass(frozen=True)
class Sampled:
    """A QR code's module grid sampled in one kept frame through an outline found there."""

    number: int  # the frame's
    outline: Outline
    grid: qr_erasure.Grid


@dataclass(frozen=True)
class Kept:
    """A frame kept for fusion: its number, the grey image, where codes were seen in it, and
    the grids of the QR codes outlined in it."""

    number: int
    grey: Grey
    seen: tuple[Box, ...]
    sampled: tuple[Sampled, ...] = ()


class Fusion:
    """The last frames in which a code was seen but not read, fused on request."""

    def __init__(self, depth: int = DEPTH, linger: int = LINGER) -> None:
        self.frames: deque[Kept] = deque(maxlen=depth)
        self.linger = linger
        self.last_seen = -10**9  # the number of the last frame in which a code was seen

    def keep(self, number: int, grey: Grey, seen: list[Box],
             outlines: Sequence[Outline] = ()) -> bool:
        """Keep frame ``number`` if a code was seen in it, or lately; True when kept.

        ``outlines``: the QR codes outlined in it (found or guessed), sampled for the vote."""
        if seen:
            self.last_seen = number
        elif number - self.last_seen > self.linger:
            self.frames.clear()  # the code has gone: older frames show something else
            return False
        if self.frames and number - self.frames[-1].number > self.linger:
            self.frames.clear()
        self.frames.append(Kept(number, grey, tuple(seen), _sampled(number, grey, outlines)))
        return True

    def voted(self) -> bytes | None:
        """The QR code read from the kept frames' module grids voted module by module, or None.

        The outlines of the kept frames that lie in the same place (``_same_place``: frame
        to frame, the hand moves the code by a pixel or two) are one placement of the code;
        each placement outlined in ``MIN_VOTERS`` frames or more (``MAX_VOTES`` of them, the
        most outlined first) is voted and decoded. Each such decode is one more chance for a
        random word to pass: the bar of every decode is raised by their number."""
        placements: list[list[Sampled]] = []
        for kept in self.frames:
            for sampled in kept.sampled:
                placement = next((p for p in placements if p[-1].number != kept.number and
                                  _same_place(p[-1].outline, sampled.outline)), None)
                if placement is None:
                    placements.append([sampled])
                else:
                    placement.append(sampled)
        votes = sorted((p for p in placements if len(p) >= MIN_VOTERS), key=len,
                       reverse=True)[:MAX_VOTES]
        for placement in votes:
            text = qr_erasure.decode(qr_erasure.vote([s.grid for s in placement]),
                                     guesses=len(votes))
            if text is not None:
                return text
        return None

    def clear(self) -> None:
        """Forget every frame (a code was read: the next one starts afresh)."""
        self.frames.clear()
        self.last_seen = -10**9

    def region(self) -> Box | None:
        """Where the code was seen: every place it was seen in the frames kept, together."""
        boxes = [box for kept in self.frames for box in kept.seen]
        if not boxes:
            return None
        region = boxes[0]
        for box in boxes[1:]:
            region = region.union(box)
        return region

    def fused(self) -> Grey | None:
        """The code's region fused over the frames kept; None when there is too little."""
        region = self.region()
        if region is None or len(self.frames) < MIN_FRAMES:
            return None
        newest = self.frames[-1].grey
        box = region.grown(SEARCH_MARGIN, newest.shape)
        if box.w < 16 or box.h < 16:
            return None
        reference = box.cut(newest)
        cuts = [_flattened(reference)]
        window = cv2.createHanningWindow((box.w, box.h), cv2.CV_32F)
        target = _edges(reference)
        for kept in list(self.frames)[:-1]:
            if kept.grey.shape != newest.shape:
                continue
            cut = box.cut(kept.grey)
            (dx, dy), match = cv2.phaseCorrelate(target, _edges(cut), window)
            if match < MIN_MATCH or abs(dx) > box.w / 4 or abs(dy) > box.h / 4:
                continue
            shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
            moved = cv2.warpAffine(cut, shift, (box.w, box.h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            cuts.append(_flattened(moved))
        if len(cuts) < MIN_FRAMES:
            return None
        return _darker_half_mean(np.stack(cuts))


def _sampled(number: int, grey: Grey, outlines: Sequence[Outline]) -> tuple[Sampled, ...]:
    """The module grid through each of a frame's outlines in a place of its own: of those
    in one place (the looks' outlines of one code differ by a module or so), the one whose
    fixed modules (finders, timing, alignment) fit the frame best, chosen without a data
    module."""
    best: list[tuple[float, Outline]] = []
    for outline in outlines:
        if not 1 <= outline.version <= qr_erasure.MAX_VERSION:
            continue
        fit = qr_finders.fit(grey, outline.corners, outline.version)
        same = next((i for i, (_, known) in enumerate(best) if _same_place(known, outline)),
                    None)
        if same is None:
            best.append((fit, outline))
        elif fit > best[same][0]:
            best[same] = (fit, outline)
    out = []
    for _, outline in best:
        grid = qr_erasure.sample(grey, outline.corners, qr_side(outline.version))
        if grid is not None:
            out.append(Sampled(number, outline, grid))
    return tuple(out)


def _same_place(one: Outline, other: Outline) -> bool:
    """The same version, the corners within ``SAME_PLACE`` modules: the same code placed the
    same way (a guess turned a quarter has its corners a side away)."""
    return one.near(other, SAME_PLACE * one.module_px)


def _edges(cut: Grey) -> np.ndarray:
    """What the alignment compares: the cut's edges (a reflection's soft rim hardly counts)."""
    grey = cut.astype(np.float32)
    return cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), 1.0), cv2.CV_32F)


def _flattened(cut: Grey) -> np.ndarray:
    """The cut divided by its local white: 1.0 for paper wherever it lies, ink near 0."""
    grey = cut.astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (WHITE_PX, WHITE_PX))
    white = cv2.blur(cv2.dilate(grey, kernel), (WHITE_PX, WHITE_PX))
    return grey / np.maximum(white, 8.0)


def _darker_half_mean(stack: np.ndarray) -> Grey:
    """Per pixel, the mean of the darker half of the frames, as a grey image."""
    ordered = np.sort(stack, axis=0)
    darker = ordered[: max(1, (len(stack) + 1) // 2)].mean(axis=0)
    return np.clip(darker * 230.0, 0, 255).astype(np.uint8)
