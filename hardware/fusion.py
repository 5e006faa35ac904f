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

An empty view costs nothing here: frames are kept only once a code was seen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from hardware.regions import Box

Grey = np.ndarray

DEPTH = 10  # frames fused at most: 0.4 s at 25 fps
LINGER = 4  # frames still kept after the last one in which a code was seen
MIN_FRAMES = 3  # fewer frames than this fuse into nothing better than one
SEARCH_MARGIN = 0.25  # of the region's longer side: room for the hand's shake
MIN_MATCH = 0.05  # phase correlation's peak below this: the cut shows something else
WHITE_PX = 31  # the window (px) in which a cut's local white is measured


@dataclass(frozen=True)
class Kept:
    """A frame kept for fusion: its number, the grey image, where codes were seen in it."""

    number: int
    grey: Grey
    seen: tuple[Box, ...]


class Fusion:
    """The last frames in which a code was seen but not read, fused on request."""

    def __init__(self, depth: int = DEPTH, linger: int = LINGER) -> None:
        self.frames: deque[Kept] = deque(maxlen=depth)
        self.linger = linger
        self.last_seen = -10**9  # the number of the last frame in which a code was seen

    def keep(self, number: int, grey: Grey, seen: list[Box]) -> bool:
        """Keep frame ``number`` if a code was seen in it, or lately; True when kept."""
        if seen:
            self.last_seen = number
        elif number - self.last_seen > self.linger:
            self.frames.clear()  # the code has gone: older frames show something else
            return False
        if self.frames and number - self.frames[-1].number > self.linger:
            self.frames.clear()
        self.frames.append(Kept(number, grey, tuple(seen)))
        return True

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
