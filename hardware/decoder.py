"""Find QR codes and Code 128 barcodes in camera frames: zxing-cpp first, ZBar (pyzbar) behind it.

``DecoderChain`` is the kiosk's decoder. Most frames a camera delivers hold no code, so the
chain spends on an empty frame barely more than zxing-cpp alone; the slower help (a thresholded
copy, another binarizer, ZBar) runs only on frames where zxing-cpp found a code it could not
read. What each step adds was measured on the photo corpus and on degraded label frames
(``bench/decoding.py``); steps that did not pay were left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import zxingcpp
from pyzbar.pyzbar import ZBarSymbol, decode

from hardware import qr_erasure, qr_finders
from hardware.fusion import Fusion
from hardware.regions import Box, Outline, merged
from kiosk.ports import Decoder, Frame, Symbol

Grey = np.ndarray


def to_grey(frame: Frame) -> Grey:
    """A BGR, BGRA or grey frame as grey (decoders read brightness, not one channel)."""
    if frame.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(frame, code)
    return frame


class ZbarDecoder:
    """The Decoder port on ZBar, looking only for the symbologies the shelf prints or meets."""

    def __init__(self, symbols: Iterable[str] = ("QRCODE", "CODE128")) -> None:
        try:
            self.symbols = [ZBarSymbol[name] for name in symbols]
        except KeyError as exc:
            known = ", ".join(s.name for s in ZBarSymbol)
            raise ValueError(f"unknown ZBar symbology {exc}; known: {known}") from None

    def decode(self, frame: Frame) -> list[Symbol]:
        """Every code in a BGR or grayscale frame, as raw bytes and symbology name."""
        # pyzbar would keep only the blue channel of a colour frame: convert properly.
        return [Symbol(data=found.data, kind=found.type)
                for found in decode(to_grey(frame), symbols=self.symbols)]


@dataclass(frozen=True)
class Read:
    """What one look at a frame gave: the codes read, and how many were seen but not read."""

    symbols: list[Symbol] = field(default_factory=list)
    undecoded: int = 0  # found (finder patterns, a start pattern) but failed (a checksum)
    seen: list[Box] = field(default_factory=list)  # where those were, in the look's pixels
    outlines: list[Outline] = field(default_factory=list)  # the QR codes among them


class Reader(Protocol):
    def read(self, grey: Grey) -> Read:
        """Read a grey frame, counting the codes seen but not read too."""


# Our names (ZBar's) for zxing-cpp's formats. "QR Code" is the family (models 1 and 2, Micro QR,
# rMQR): its failed detections, Micro QR ones included, are what tells the chain that a
# damaged or washed-out code is in view (see DecoderChain).
_ZXING_FORMATS = {"QRCODE": zxingcpp.BarcodeFormat.QRCode,
                  "CODE128": zxingcpp.BarcodeFormat.Code128}
_KINDS = {fmt: name for name, fmt in _ZXING_FORMATS.items()}  # by a result's symbology
_BINARIZERS = {"local": zxingcpp.Binarizer.LocalAverage,
               "global": zxingcpp.Binarizer.GlobalHistogram}


class ZxingDecoder:
    """The Decoder port on zxing-cpp, on grey frames, for QR codes and Code 128 only.

    ``binarizer`` "local" (zxing-cpp's default) suits uneven light; "global" (one threshold
    from the histogram) reads some codes the local one breaks up, such as cloth-printed ones.
    """

    def __init__(self, symbols: Iterable[str] = ("QRCODE", "CODE128"), *,
                 binarizer: str = "local", rotate: bool = True) -> None:
        names = list(symbols)
        unknown = [n for n in names if n not in _ZXING_FORMATS]
        if unknown or binarizer not in _BINARIZERS:
            raise ValueError(f"unknown symbology {unknown} or binarizer {binarizer!r}; known: "
                             f"{', '.join(_ZXING_FORMATS)}; {', '.join(_BINARIZERS)}")
        self.formats = tuple(_ZXING_FORMATS[n] for n in names)
        self.binarizer = _BINARIZERS[binarizer]
        self.rotate = rotate  # False: barcodes only as held, bars upright (half the work)

    def read(self, grey: Grey) -> Read:
        found = zxingcpp.read_barcodes(grey, formats=self.formats, binarizer=self.binarizer,
                                       text_mode=zxingcpp.TextMode.Plain, return_errors=True,
                                       try_rotate=self.rotate)
        # Plain text: the code's characters (its ECI or a guessed charset applied), as ZBar
        # gives them, in UTF-8: not the "human readable" form (GS1 brackets, <SOH>).
        failed = [b for b in found if not b.valid]
        return Read([Symbol(b.text.encode("utf-8"), _KINDS[b.symbology])
                     for b in found if b.valid], len(failed),
                    [_where(b) for b in failed],
                    [outline for b in failed if (outline := _outline(b)) is not None])

    def decode(self, frame: Frame) -> list[Symbol]:
        """Every code in a BGR or grayscale frame, as UTF-8 bytes and symbology name."""
        return self.read(to_grey(frame)).symbols


def _where(barcode: zxingcpp.Barcode) -> Box:
    """Where a code that was seen but not read may lie, from what zxing-cpp found of it.

    A QR code's corners are the code. A Micro QR or rMQR "found" in a frame of the shelf's
    labels is a piece of a larger QR code (a finder pattern and what glare left around it):
    the code may reach 1.25 times that piece's size further, on any side. A barcode's
    position is the line it was read along: the bars stand above and below it.
    """
    position = barcode.position
    box = Box.around([(p.x, p.y) for p in (position.top_left, position.top_right,
                                           position.bottom_right, position.bottom_left)])
    if barcode.format in _PIECES:
        return box.widened(1.25 * max(box.w, box.h), 1.25 * max(box.w, box.h))
    if barcode.format == zxingcpp.BarcodeFormat.Code128:
        return box.widened(0, max(0.0, 0.3 * box.w - box.h / 2))
    return box


_PIECES = (zxingcpp.BarcodeFormat.MicroQRCode, zxingcpp.BarcodeFormat.RMQRCode)


def _outline(barcode: zxingcpp.Barcode) -> Outline | None:
    """A failed QR code's corners and version (zxing-cpp read its format, not its data)."""
    version = str((barcode.extra or {}).get("Version", ""))
    if barcode.format != zxingcpp.BarcodeFormat.QRCode or not version.isdigit():
        return None
    position = barcode.position
    corners = np.array([(p.x, p.y) for p in (position.top_left, position.top_right,
                                             position.bottom_right, position.bottom_left)],
                       np.float32)
    return Outline(corners, int(version))


class Preprocessed:
    """A decoder that reads a transformed copy of the frame (a threshold, a contrast lift)."""

    def __init__(self, decoder: Decoder, transform: Callable[[Grey], Grey]) -> None:
        self.decoder, self.transform = decoder, transform

    def decode(self, frame: Frame) -> list[Symbol]:
        return self.decoder.decode(self.transform(to_grey(frame)))

    def read(self, grey: Grey) -> Read:
        """The transformed copy read, the QR codes seen in it outlined (where the decoder
        can say so)."""
        return _look(self.decoder, self.transform(grey))


def _look(decoder: Decoder, grey: Grey) -> Read:
    """A decoder's read of a grey image: with what it saw but could not read, if it says."""
    if isinstance(decoder, ZxingDecoder | Preprocessed):
        return decoder.read(grey)
    return Read(decoder.decode(grey))


def adaptive_threshold(grey: Grey) -> Grey:
    """Black and white by each pixel's neighbourhood: a glare's wash or a shadow leaves the
    modules around it readable (31 px: a few modules of a label at arm's length)."""
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY,
                                 31, 0)


def stretched_locally(grey: Grey) -> Grey:
    """Each pixel placed between the darkest and the lightest around it (15 px), then black
    and white as ``adaptive_threshold``: under a reflection that leaves a tenth of the
    contrast, the modules come back to full contrast, where one threshold sees only white."""
    window = cv2.getStructuringElement(cv2.MORPH_RECT, (LOCAL_PX, LOCAL_PX))
    white = cv2.blur(cv2.dilate(grey, window), (LOCAL_PX, LOCAL_PX)).astype(np.float32)
    black = cv2.blur(cv2.erode(grey, window), (LOCAL_PX, LOCAL_PX)).astype(np.float32)
    # A floor under the span: where paper meets paper, noise is not stretched into modules.
    span = (grey.astype(np.float32) - black) / np.maximum(white - black, 6.0)
    return adaptive_threshold(np.clip(span * 255, 0, 255).astype(np.uint8))


LOCAL_PX = 15  # a few modules of a label at 30-50 cm


def half(grey: Grey) -> Grey:
    """The frame at half size, each pixel the mean of four (which halves the noise too)."""
    return cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


def brightness(grey: Grey) -> int:
    """The grey level that 99 % of a sample of the pixels stay under: the frame's white."""
    sample = np.ascontiguousarray(grey[::4, ::4])
    counts = np.cumsum(cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel())
    return int(np.searchsorted(counts, 0.99 * counts[-1]))


DIM = 96  # a frame whose white is darker than this is lifted before reading (see DecoderChain)


class DecoderChain:
    """The kiosk's decoder: zxing-cpp on every frame, the rest only where it pays.

    1. A dim frame (dusk, a dark corner: its white under ``DIM``) is halved and stretched to
       full contrast first: zxing-cpp ignores contrast that faint, and the halving both
       averages the noise a dim sensor adds and keeps the frame's cost down. Barcodes held
       upright are then looked for at full size too (stretched, the noise smoothed): halving
       would merge their thin bars.
    2. ``first`` (zxing-cpp) reads the frame; if it reads nothing, ``second_look`` (zxing-cpp,
       QR only) reads it at half size, which catches codes too coarse or too noisy at full
       size, for a quarter of the cost.
    3. Only where a look saw a code it could not read (a failed checksum: glare, cloth, tilt;
       or a piece of one, see ``_where``) is that region cut out at full size and given to
       ``rescue`` in order until one reads: zxing-cpp on an adaptive threshold (glare), on
       the contrast stretched locally first (a stronger glare), zxing-cpp with its global
       binarizer, then ZBar. An empty frame almost never gets there.
    4. And then, with ``fuse`` (the kiosk's scan loop only: one camera's frames in order),
       the frames of the last moments in which that code was seen are read together
       (``hardware.fusion``): the QR code's module grids, each sampled through the outline
       found or guessed in its frame, voted module by module; else the frames fused into one
       image of it. A reflection that moves as the hand shakes leaves each module clear in
       some frame. Off by default: a decoder of unrelated photos (the staff site's uploads,
       on several threads) must not mix one into another.
    """

    def __init__(self, first: Reader | None = None, second_look: Reader | None = None,
                 rescue: Sequence[Decoder] | None = None, *, fuse: bool = False) -> None:
        self.first = first or ZxingDecoder()
        self.second_look = second_look or ZxingDecoder(("QRCODE",))
        self.barcodes = ZxingDecoder(("CODE128",), rotate=False)  # dim frames, see decode
        self.rescue = list(rescue) if rescue is not None else [
            Preprocessed(ZxingDecoder(), adaptive_threshold),
            Preprocessed(ZxingDecoder(), stretched_locally),
            ZxingDecoder(binarizer="global"),
            ZbarDecoder(),
        ]
        self.fusion = Fusion() if fuse else None
        self.frames = 0  # frames decoded so far: the fusion's clock

    def decode(self, frame: Frame) -> list[Symbol]:
        """Every code in a BGR or grayscale frame, from the first step that reads any."""
        self.frames += 1
        grey = to_grey(frame)
        white = brightness(grey)
        lift = 1.0
        if white < DIM:
            lift = 255.0 / max(white, 1)
            # The noise a dim sensor adds, stretched with the rest, is smoothed a little more
            # than halving does: on noise, zxing-cpp finds edges everywhere and is slow. Barcodes
            # (held upright) at full width, each four rows averaged into one: halving would
            # merge their thin bars, and the full frame costs four times as much.
            looks = [(self.first, lambda: cv2.GaussianBlur(_lifted(half(grey), lift), (0, 0),
                                                           0.6), (2, 2)),
                     (self.barcodes, lambda: _bars(grey, lift), (1, BAR_ROWS))]
        else:
            looks = [(self.first, lambda: grey, (1, 1)),
                     (self.second_look, lambda: half(grey), (2, 2))]
        seen: list[Box] = []
        outlines: list[Outline] = []
        for reader, view, (sx, sy) in looks:
            read = reader.read(view())
            if read.symbols:
                return self._read(read.symbols)
            seen += [box.scaled(sx, sy) for box in read.seen]
            outlines += [outline.moved(sx) for outline in read.outlines if sx == sy]
            if read.undecoded and not read.seen:  # seen, but not said where: all of it
                seen.append(Box(0, 0, grey.shape[1], grey.shape[0]))
        seen = merged(seen)
        for box in seen:
            cut = box.grown(RESCUE_MARGIN, grey.shape)
            patch = _lifted(cut.cut(grey), lift)
            for decoder in self.rescue:
                read = _look(decoder, patch)
                if read.symbols:
                    return self._read(read.symbols)
                outlines += [outline.moved(1.0, cut.x, cut.y) for outline in read.outlines]
        if symbols := _erasures(grey, outlines):
            return self._read(symbols)
        guessed = _guessed(grey, seen)
        if symbols := _erasures(grey, guessed):
            return self._read(symbols)
        return self._fused(frame, grey, seen, outlines + guessed)

    def _read(self, symbols: list[Symbol]) -> list[Symbol]:
        if self.fusion is not None:
            self.fusion.clear()  # that code is done: the next one starts afresh
        return symbols

    def _fused(self, frame: Frame, grey: Grey, seen: list[Box],
               outlines: list[Outline]) -> list[Symbol]:
        """Keep the frame if a code was seen in it (or lately), and read the kept ones: their
        module grids voted, else the frames fused."""
        if self.fusion is None:
            return []
        own = grey.copy() if grey is frame else grey  # a camera may reuse its buffer
        if not self.fusion.keep(self.frames, own, seen, outlines):
            return []
        if (text := self.fusion.voted()) is not None:
            return self._read([Symbol(text, "QRCODE")])
        fused = self.fusion.fused()
        if fused is None:
            return []
        outlines: list[Outline] = []
        for decoder in (self.first, *self.rescue):
            read = _look(decoder, fused)
            if read.symbols:
                return self._read(read.symbols)
            outlines += read.outlines
        return self._read(symbols) if (symbols := _erasures(fused, outlines)) else []


def _erasures(grey: Grey, outlines: list[Outline]) -> list[Symbol]:
    """The first QR code outlined that Reed-Solomon decoding with erasures reads
    (``hardware.qr_erasure``): a glare's washed-out modules are erased, not guessed.
    Outlines guessed (``Outline.guesses``) raise the bar of the verification."""
    tried: list[Outline] = []
    for outline in outlines:
        if any(o.near(outline, SAME_OUTLINE_PX) for o in tried):
            continue
        tried.append(outline)
        text = qr_erasure.read(grey, outline.corners, outline.version,
                               guesses=outline.guesses)
        if text is not None:
            return [Symbol(text, "QRCODE")]
    return []


def _guessed(grey: Grey, seen: list[Box]) -> list[Outline]:
    """Where a QR code may lie in each region where a piece of one was seen, from the finder
    patterns a glare left (``hardware.qr_finders``): each a guess, counted as such."""
    out: list[Outline] = []
    for box in seen:
        cut = box.grown(RESCUE_MARGIN, grey.shape)
        patch = cut.cut(grey)
        found = qr_finders.finders(adaptive_threshold(patch))
        out += [Outline(corners, version).moved(1.0, cut.x, cut.y)
                for corners, version in qr_finders.placed(patch, found)]
    return [Outline(o.corners, o.version, len(out)) for o in out]


SAME_OUTLINE_PX = 1.5  # corners this close: the same code found again (a rescue's look)
RESCUE_MARGIN = 0.15  # of a region's longer side, around it: the quiet zone and a finder's edge
BAR_ROWS = 4  # a dim frame's rows averaged into one for the barcodes' look


def _lifted(grey: Grey, lift: float) -> Grey:
    """The grey image stretched by ``lift`` (a dim frame's white to full white)."""
    return grey if lift == 1.0 else cv2.convertScaleAbs(grey, alpha=lift)


def _bars(grey: Grey, lift: float) -> Grey:
    """A dim frame for upright barcodes: full width, ``BAR_ROWS`` rows averaged, stretched,
    its noise smoothed along the rows (across the bars) a little more."""
    rows = cv2.resize(grey, (grey.shape[1], max(1, grey.shape[0] // BAR_ROWS)),
                      interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(_lifted(rows, lift), (0, 0), sigmaX=0.8, sigmaY=0.1)
