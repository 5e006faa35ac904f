"""What the camera sees of a code, for the person aiming it (`shelf doctor --aim`).

A code reads at the gate when each of its modules (a QR code's little squares) spans enough
pixels: ``bench labels`` found the shelf's labels read through glare and blur from about 4
pixels a module, unreliably under 2.5. So an installer holds a label where couriers hold
parcels and is told, for each code in view, its outline, how many pixels a module spans, and
whether zxing-cpp could read it; with the frame's white (``brightness``) and how much of it is
burnt out by a lamp's reflection (``glare``). Nothing of the code's text is kept: a label
names a household.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import zxingcpp

from hardware.decoder import brightness, to_grey
from hardware.regions import qr_side
from kiosk.ports import Frame

GOOD_MODULE_PX = 4.0  # from here up the labels read through glare and blur (bench labels)
FAR_MODULE_PX = 2.5  # below this a code reads only in good light, held still
BURNT = 250  # a grey level this high is a lamp's reflection, not paper


@dataclass(frozen=True)
class Seen:
    """One code in view: its kind (``qr``, ``barcode``), its corners (clockwise from the top
    left, in the frame's pixels), pixels per module (a QR code's; None for others), and
    whether it was read."""

    kind: str
    corners: tuple[tuple[int, int], ...]
    module_px: float | None
    read: bool

    @property
    def verdict(self) -> str:
        """``good``, ``far`` (move the camera closer or use 1280x720), ``too_far``, or
        ``unknown`` (a barcode: judge it by whether it reads)."""
        if self.module_px is None:
            return "unknown"
        if self.module_px >= GOOD_MODULE_PX:
            return "good"
        return "far" if self.module_px >= FAR_MODULE_PX else "too_far"

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "corners": [list(c) for c in self.corners],
                "module_px": self.module_px, "read": self.read, "verdict": self.verdict}


@dataclass(frozen=True)
class Sight:
    """One frame as the installer needs it: its size, white, glare and the codes in view."""

    width: int
    height: int
    brightness: int  # the grey level 99 % of the pixels stay under (255: white paper, lit)
    glare: float  # the share of pixels burnt out (>= BURNT)
    codes: tuple[Seen, ...]

    def as_json(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height, "brightness": self.brightness,
                "glare": round(self.glare, 4), "codes": [c.as_json() for c in self.codes]}


def look(frame: Frame) -> Sight:
    """What the camera sees in ``frame`` (BGR or grey) for aiming it."""
    grey = to_grey(frame)
    height, width = grey.shape[:2]
    found = zxingcpp.read_barcodes(grey, return_errors=True, try_rotate=True)
    codes = tuple(_seen(b) for b in found
                  if b.format in (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128))
    sample = grey[::2, ::2]  # every fourth pixel: enough for a share, a quarter of the work
    burnt = float(np.count_nonzero(sample >= BURNT)) / sample.size
    return Sight(width, height, brightness(grey), burnt, codes)


def _seen(barcode: zxingcpp.Barcode) -> Seen:
    p = barcode.position
    corners = tuple((int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right,
                                                   p.bottom_left))
    if barcode.format != zxingcpp.BarcodeFormat.QRCode:
        return Seen("barcode", corners, None, barcode.valid)
    module_px = None
    version = str((barcode.extra or {}).get("Version", ""))
    if version.isdigit():  # a QR code's version gives its modules a side
        sides = [float(np.hypot(a[0] - b[0], a[1] - b[1]))
                 for a, b in zip(corners, corners[1:] + corners[:1], strict=True)]
        module_px = round(sum(sides) / 4 / qr_side(int(version)), 1)
    return Seen("qr", corners, module_px, barcode.valid)


class AimingLook:
    """The CameraLook port: the frame as a JPEG of at most 640 x 480 for the staff site's
    camera view, and ``look``'s figures in the frame's own pixels."""

    def __init__(self) -> None:
        from hardware.stills import JpegStills

        self.jpeg = JpegStills(max_width=640, max_height=480, max_bytes=80 * 1024)

    def look(self, frame: Frame) -> tuple[bytes, dict[str, object]]:
        return self.jpeg.encode(frame), look(frame).as_json()
