"""Encode the frame a scan acted on as a small JPEG: the still staff see on a parcel's timeline.

Sizes measured on the project's rendered label frames and on the real photo corpus
(`python -m bench stills`): at 320 x 240 and quality 75 a rendered 640 x 480 frame is about
7 KB, a real webcam photo about 10 KB (p95 19 KB), in about 0.5-1 ms on one x86 core. A busy
frame (clutter, strong noise) is encoded again at a lower quality until it fits MAX_BYTES, so
the disk budget in the README holds for every still, not only the typical one.
"""

from __future__ import annotations

import cv2

from kiosk.ports import Frame

MAX_WIDTH, MAX_HEIGHT = 320, 240  # a 4:3 frame becomes 320 x 240, a 16:9 one 320 x 180
QUALITIES = (75, 60, 45, 30)  # tried in turn until the JPEG fits MAX_BYTES
MAX_BYTES = 20 * 1024


class JpegStills:
    """The StillEncoder port on OpenCV: downscaled (never enlarged), JPEG, at most MAX_BYTES."""

    def __init__(self, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT,
                 qualities: tuple[int, ...] = QUALITIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_width, self.max_height = max_width, max_height
        self.qualities, self.max_bytes = qualities, max_bytes

    def encode(self, frame: Frame) -> bytes:
        """The frame as a JPEG of at most ``max_width`` x ``max_height`` and ``max_bytes``."""
        small = self._downscaled(frame)
        data = b""
        for quality in self.qualities:
            ok, buffer = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality,
                                                      cv2.IMWRITE_JPEG_OPTIMIZE, 1])
            if not ok:
                raise ValueError("OpenCV could not encode the frame as JPEG")
            data = buffer.tobytes()
            if len(data) <= self.max_bytes:
                break
        return data  # the lowest quality's, if even that is larger: still worth keeping

    def _downscaled(self, frame: Frame) -> Frame:
        height, width = frame.shape[:2]
        scale = min(self.max_width / width, self.max_height / height)
        if scale >= 1:
            return frame
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # INTER_AREA averages the pixels it merges: no aliasing on the label's fine print.
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
