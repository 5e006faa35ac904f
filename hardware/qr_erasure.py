"""Read a QR code that glare has partly washed out, by Reed-Solomon decoding with erasures.

zxing-cpp treats a washed-out module as an error, and Reed-Solomon corrects ``ec / 2`` wrong
codewords. But a glare tells where it lies (the paper there is bright and has lost its
contrast), and a codeword known to be unreliable, an erasure, costs half an error: ``ec``
erasures are restored. So where zxing-cpp found a QR code but could not read it, its corners
are used to sample the module grid here; each module gets a value and a confidence (its
contrast against the dark and light modules around it, relative to the code's own contrast);
the format information is decoded from both copies, the grid unmasked, the codewords read in
the standard's placement order and split into their blocks; each block is decoded with the
least confident codewords erased (generalised minimum distance decoding: 0, 2, 4 ... erased,
the rest corrected as errors), and the data segments parsed into the payload.

A false read is worse than none (a carrier's QR code carries no signature). Every block must
decode to a codeword (its syndromes zero, ``erasures + 2 * errors <= ec``), the data must
parse into whole segments followed by the standard's terminator and pad codewords, and the
chance that a random word would have passed all that (each block's trials counted, each
guessed outline too) must be under ``FALSE_READ``: with many erasures few check codewords
are left to verify, and such a decode is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from reedsolo import ReedSolomonError, RSCodec
from segno import consts

from hardware.regions import qr_side

Grey = np.ndarray
Quad = np.ndarray  # 4 x 2: the symbol's outer corners, top left, top right, bottom right, left

SAMPLES = 6  # pixels a module when the code is straightened out for sampling
NEAR = 3  # the modules (a side) around one whose darkest and lightest set its threshold
WIDE = 7  # ... unless those are all of one colour: their span under NARROW_SHARE of the
NARROW_SHARE = 0.25  # WIDE one's, which keeps FULL_SHARE of the code's contrast (no glare)
FULL_SHARE = 0.8
FALSE_READ = 1e-9  # the most a random word may have of passing every check and being read
MAX_VERSION = 10  # larger codes have many blocks: their trials would cost a second in Python
FORMAT_ERRORS = 3  # the format's BCH code corrects 3 bits of 15

_ERROR_LEVELS = {bits: level for level, bits in consts.ERROR_MAPPING.items()}  # 0 -> "M"
_MASKS = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)


@dataclass(frozen=True)
class Grid:
    """A sampled symbol: each module dark or not, and how sure that is (0: not at all)."""

    dark: np.ndarray  # bool, rows x columns
    confidence: np.ndarray  # float, 0..1

    @property
    def size(self) -> int:
        return self.dark.shape[0]


def read(grey: Grey, corners: Quad, version: int, *, guesses: int = 1) -> bytes | None:
    """The payload (UTF-8) of the version ``version`` QR code whose corners are given, or None.

    ``guesses``: of how many outlines guessed for the same code this is one (each is one
    more chance for a random word to pass, so the bar is raised as many times)."""
    if not 1 <= version <= MAX_VERSION:
        return None
    grid = sample(grey, corners, qr_side(version))
    if grid is None:
        return None
    return decode(grid, guesses=guesses)


def sample(grey: Grey, corners: Quad, size: int) -> Grid | None:
    """The module grid of a ``size`` x ``size`` symbol through its four outer corners."""
    side = size * SAMPLES
    target = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    try:
        warp = cv2.getPerspectiveTransform(np.asarray(corners, np.float32), target)
    except cv2.error:
        return None
    flat = cv2.warpPerspective(grey, warp, (side, side), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    # The middle of each module only: its edges blur into the neighbours.
    inner = slice(SAMPLES // 3, SAMPLES - SAMPLES // 3)
    values = flat.reshape(size, SAMPLES, size, SAMPLES)[:, inner, :, inner].mean(axis=(1, 3))
    contrast = float(np.percentile(values, 95) - np.percentile(values, 5))
    if contrast <= 0:
        return None
    light, dark = _extremes(values, NEAR)
    span = light - dark
    middle = (light + dark) / 2
    # Where the nearest modules are all of one colour, their middle is noise: such a module
    # is told by the wider neighbourhood's, which holds both colours (it stays unsure).
    wide_light, wide_dark = _extremes(values, WIDE)
    wide_span = wide_light - wide_dark
    uniform = (span < NARROW_SHARE * wide_span) & (wide_span >= FULL_SHARE * contrast)
    told_by = np.where(uniform, (wide_light + wide_dark) / 2, middle)
    # Sure where the neighbourhood keeps the code's contrast and the module is far from the
    # middle of it; a glare's wash leaves a small span: those modules are the erasures.
    share = np.clip(span / contrast, 0.0, 1.0)
    apart = np.clip(2 * np.abs(values - middle) / np.maximum(span, 1.0), 0.0, 1.0)
    return Grid(values < told_by, share * apart)


def vote(grids: Sequence[Grid]) -> Grid:
    """One grid from several samplings of the same code (frames of it, each sampled through
    its own outline): each module the colour its frames' confidences weigh more for, as sure
    as the frames agree and are sure (a module a glare washes out in one frame, unsure there,
    is taken from the frames where it is not; two sure frames that disagree leave it unsure)."""
    sides = np.where(np.stack([g.dark for g in grids]), 1.0, -1.0)
    weighed = (sides * np.stack([g.confidence for g in grids])).sum(axis=0)
    return Grid(weighed > 0, np.abs(weighed) / len(grids))


@dataclass(frozen=True)
class Block:
    """One Reed-Solomon block as read: its codewords, how sure each is, its data's length."""

    words: np.ndarray  # uint8
    sure: np.ndarray  # float, the least sure of each codeword's 8 modules
    data: int

    @property
    def check(self) -> int:
        return len(self.words) - self.data


def _extremes(values: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The lightest and the darkest module of the ``side`` x ``side`` around each."""
    window = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    return (cv2.dilate(values, window, borderType=cv2.BORDER_REPLICATE),
            cv2.erode(values, window, borderType=cv2.BORDER_REPLICATE))


def decode(grid: Grid, *, guesses: int = 1) -> bytes | None:
    """The payload of a sampled grid, or None where it cannot be verified."""
    read = blocks(grid)
    if read is None:
        return None
    data, chance = bytearray(), float(guesses)
    for block in read:
        corrected = _corrected(block)
        if corrected is None:
            return None
        data += corrected[0][:block.data]
        chance *= corrected[1]
    parsed = parse(bytes(data), (grid.size - 17) // 4)
    if parsed is None:
        return None
    text, checked_bits = parsed
    return text if chance * 2.0 ** -checked_bits <= FALSE_READ else None


def blocks(grid: Grid) -> list[Block] | None:
    """The grid's codewords, unmasked and de-interleaved into their blocks (None where its
    format information cannot be read)."""
    size = grid.size
    version = (size - 17) // 4
    fmt = _format(grid)
    if fmt is None:
        return None
    level, mask = fmt
    rows, cols = np.indices((size, size))
    bits = grid.dark ^ _MASKS[mask](rows, cols)
    shape = consts.ECC[version][consts.ERROR_MAPPING[level]]
    total = sum(b.num_blocks * b.num_total for b in shape)
    order = placement(function_modules(version))[: total * 8]
    words = np.packbits(bits[order[:, 0], order[:, 1]].reshape(total, 8), axis=1).ravel()
    sure = grid.confidence[order[:, 0], order[:, 1]].reshape(total, 8).min(axis=1)
    return list(_blocks(words, sure, shape))


def _format(grid: Grid) -> tuple[str, int] | None:
    """The error level and mask, from whichever copy of the format bits is surer."""
    size = grid.size
    first = [(8, c) for c in range(6)] + [(8, 7), (8, 8), (7, 8)] + \
        [(r, 8) for r in range(5, -1, -1)]
    second = [(r, 8) for r in range(size - 1, size - 8, -1)] + \
        [(8, c) for c in range(size - 8, size)]
    best: tuple[float, int] | None = None
    for copy in (first, second):
        dark = np.array([grid.dark[r, c] for r, c in copy])
        sure = np.array([grid.confidence[r, c] for r, c in copy])
        for index, code in enumerate(consts.FORMAT_INFO):
            expected = np.array([(code >> (14 - k)) & 1 for k in range(15)], bool)
            wrong = dark != expected
            if wrong.sum() > FORMAT_ERRORS:
                continue
            cost = float(sure[wrong].sum())
            if best is None or cost < best[0]:
                best = (cost, index)
    if best is None:
        return None
    return _ERROR_LEVELS[best[1] >> 3], best[1] & 7


def function_modules(version: int) -> np.ndarray:
    """The modules of a version's symbol that hold no data: finders, timing, alignment,
    format and version information (True)."""
    size = qr_side(version)
    used = np.zeros((size, size), bool)
    used[:9, :9] = used[:9, size - 8:] = used[size - 8:, :9] = True  # finders, format
    used[6, :] = used[:, 6] = True  # timing
    if version >= 2:
        centres = consts.ALIGNMENT_POS[version - 2]
        corners = {(centres[0], centres[0]), (centres[0], centres[-1]),
                   (centres[-1], centres[0])}  # where the finders stand
        for r in centres:
            for c in centres:
                if (r, c) not in corners:
                    used[r - 2:r + 3, c - 2:c + 3] = True
    if version >= 7:
        used[:6, size - 11:size - 8] = used[size - 11:size - 8, :6] = True
    return used


def function_pattern(version: int) -> tuple[np.ndarray, np.ndarray]:
    """The modules of a version's symbol whose colour the standard fixes (finders and their
    separators, timing, alignment; True), and which of those are dark."""
    size = qr_side(version)
    known = np.zeros((size, size), bool)
    dark = np.zeros((size, size), bool)
    ring = np.maximum(*np.abs(np.indices((7, 7)) - 3))  # the rings of a finder: 0..3
    for r, c in ((0, 0), (0, size - 7), (size - 7, 0)):
        dark[r:r + 7, c:c + 7] = ring != 2
        known[max(0, r - 1):r + 8, max(0, c - 1):c + 8] = True  # with its light separator
    known[6, 8:size - 8] = known[8:size - 8, 6] = True
    dark[6, 8:size - 8:2] = dark[8:size - 8:2, 6] = True
    if version >= 2:
        centres = consts.ALIGNMENT_POS[version - 2]
        small = np.maximum(*np.abs(np.indices((5, 5)) - 2)) != 1
        for r in centres:
            for c in centres:
                if not known[r, c] or (r == 6 or c == 6) and not _in_finder(r, c, size):
                    known[r - 2:r + 3, c - 2:c + 3] = True
                    dark[r - 2:r + 3, c - 2:c + 3] = small
    return known, dark


def _in_finder(r: int, c: int, size: int) -> bool:
    return (r < 9 and c < 9) or (r < 9 and c >= size - 8) or (r >= size - 8 and c < 9)


def placement(function: np.ndarray) -> np.ndarray:
    """The (row, column) of every data bit, in the order the standard places them."""
    size = function.shape[0]
    out = []
    upward = True
    col = size - 1
    while col > 0:
        if col == 6:
            col -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            for c in (col, col - 1):
                if not function[r, c]:
                    out.append((r, c))
        upward = not upward
        col -= 2
    return np.array(out, int)


def _blocks(words: np.ndarray, sure: np.ndarray, shape: Sequence[consts.EC]) -> Iterator[Block]:
    """Each block, de-interleaved (the standard's order: data codewords in turn, then check)."""
    shapes = [(b.num_total, b.num_data) for b in shape for _ in range(b.num_blocks)]
    members: list[list[int]] = [[] for _ in shapes]
    position = 0
    for i in range(max(d for _, d in shapes)):
        for block, (_, data_len) in enumerate(shapes):
            if i < data_len:
                members[block].append(position)
                position += 1
    for i in range(max(t - d for t, d in shapes)):
        for block, (total, data_len) in enumerate(shapes):
            if i < total - data_len:
                members[block].append(position)
                position += 1
    for index, (_, data_len) in zip(members, shapes, strict=True):
        yield Block(words[index], sure[index], data_len)


def _corrected(block: Block) -> tuple[bytes, float] | None:
    """The block corrected with its least sure codewords erased, and the chance that a random
    word would have passed as it did; None if no trial decodes.

    Trials erase 0, 2, 4 ... codewords, the least sure first, and correct what errors the
    rest of the check codewords allow (``erasures + 2 * errors <= ec``)."""
    ec = block.check
    codec = RSCodec(ec)
    received = bytearray(block.words.tobytes())
    by_doubt = [int(i) for i in np.argsort(block.sure, kind="stable")]
    trials = range(0, ec - 1, 2)  # at least two check codewords left to verify with
    for erased in trials:
        erase = sorted(by_doubt[:erased])
        try:
            _, whole, errata = codec.decode(received, erase_pos=erase or None)
        except ReedSolomonError:
            continue
        errors = len(set(errata) - set(erase))
        if erased + 2 * errors <= ec and codec.check(whole)[0]:
            return bytes(whole), len(trials) * _passing(len(received) - erased, ec - erased,
                                                        errors)
    return None


def _passing(length: int, check: int, errors: int) -> float:
    """The share of random words of ``length`` codewords, ``check`` of them redundant, that
    lie within ``errors`` codewords of a codeword (and so pass a decode that found as many)."""
    near = sum(math.comb(length, k) * 255 ** k for k in range(errors + 1))
    return near / 256.0 ** check


_COUNT_BITS = {1: (10, 12, 14), 2: (9, 11, 13), 4: (8, 16, 16), 8: (8, 10, 12)}
_ALPHANUMERIC = consts.ALPHANUMERIC_CHARS.decode("ascii") \
    if isinstance(consts.ALPHANUMERIC_CHARS, bytes) else consts.ALPHANUMERIC_CHARS


def parse(data: bytes, version: int) -> tuple[bytes, int] | None:
    """The text of the data codewords as UTF-8, and how many bits after it (terminator, zero
    bits, pad codewords) were as the standard has them; None where they are not.

    Numeric, alphanumeric and byte segments (after an ECI of UTF-8 or ISO-8859-1, or none) are
    read; bytes are taken as UTF-8 where they are that, else as ISO-8859-1 (as zxing-cpp
    guesses). The padding is held to the standard: it is what verifies a decode further."""
    bits = "".join(f"{b:08b}" for b in data)
    at, out, declared = 0, [], None
    size_class = 0 if version <= 9 else 1 if version <= 26 else 2
    while at + 4 <= len(bits):
        mode = int(bits[at:at + 4], 2)
        if mode == 0:
            break
        at += 4
        if mode == 7:  # ECI: the charset of what follows, in one byte here
            eci = int(bits[at:at + 8], 2) if at + 8 <= len(bits) else -1
            if eci not in (3, 26):
                return None
            declared, at = eci, at + 8
            continue
        if mode not in (1, 2, 4):
            return None  # Kanji, structured append, FNC1: not read here
        width = _COUNT_BITS[mode][size_class]
        if at + width > len(bits):
            return None
        count = int(bits[at:at + width], 2)
        piece = _segment(bits, at + width, mode, count)
        if piece is None:
            return None
        raw, at = piece
        out.append(raw)
    if not out:
        return None
    checked = _padding(bits, at)
    if checked is None:
        return None
    raw = b"".join(out)
    if declared == 3:
        return raw.decode("latin-1").encode("utf-8"), checked
    try:
        return raw.decode("utf-8").encode("utf-8"), checked
    except UnicodeDecodeError:
        return None if declared == 26 else (raw.decode("latin-1").encode("utf-8"), checked)


_PAD = ("11101100", "00010001")


def _padding(bits: str, at: int) -> int | None:
    """How many bits from ``at`` on are as the standard has them after the data (zeros: the
    terminator and the fill to a codeword, then pad codewords alternating), less a few for
    where the zeros may end (some encoders, segno among them, fill a whole zero codeword more);
    None if they are not."""
    start = at
    while start < len(bits) and (start < at + 4 or start % 8 or bits[start:start + 8] == "0" * 8):
        if bits[start] != "0":
            return None
        start += 1
    for index, codeword in enumerate(range(start, len(bits), 8)):
        if bits[codeword:codeword + 8] != _PAD[index % 2]:
            return None
    return max(0, len(bits) - at - PADDING_LENIENCE)


PADDING_LENIENCE = 3  # bits: the zeros may end at one of a few codeword boundaries


def _segment(bits: str, at: int, mode: int, count: int) -> tuple[bytes, int] | None:
    """One segment's bytes and the bit after it, or None if the data end first."""
    if mode == 4:
        end = at + 8 * count
        if end > len(bits):
            return None
        return bytes(int(bits[i:i + 8], 2) for i in range(at, end, 8)), end
    chars = []
    if mode == 1:
        for group in range(0, count, 3):
            digits = min(3, count - group)
            width = (4, 7, 10)[digits - 1]
            if at + width > len(bits):
                return None
            value = int(bits[at:at + width], 2)
            if value >= 10 ** digits:
                return None
            chars.append(f"{value:0{digits}d}")
            at += width
    else:
        for pair in range(0, count, 2):
            width = 11 if count - pair >= 2 else 6
            if at + width > len(bits):
                return None
            value = int(bits[at:at + width], 2)
            if width == 11:
                if value >= 45 * 45:
                    return None
                chars.append(_ALPHANUMERIC[value // 45] + _ALPHANUMERIC[value % 45])
            else:
                if value >= 45:
                    return None
                chars.append(_ALPHANUMERIC[value])
            at += width
    return "".join(chars).encode("ascii"), at
