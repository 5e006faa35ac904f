"""Draw Code 128 barcodes (code set B) for tests: a carrier's waybill without a carrier.

No barcode-writing package is installed, and ZBar only reads: the symbols' widths come from the
Code 128 table (ISO/IEC 15417), each as bar, space, bar, space, bar, space modules.
"""

from __future__ import annotations

import numpy as np

_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 "
    "112232 122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 "
    "311222 321122 321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 "
    "112313 132113 132311 211313 231113 231311 112133 112331 132131 113123 113321 133121 "
    "313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 "
    "122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 "
    "114311 411113 411311 113141 114131 311141 411131 211412 211214 211232"
)
WIDTHS = _TABLE.split()  # indexed by symbol value 0-105
START_B, STOP = 104, "2331112"
QUIET = 10  # modules of white on each side, as the standard asks


def modules(text: str) -> list[int]:
    """The symbol as modules, 1 = bar: start B, the characters, the check symbol, stop."""
    values = [START_B, *(ord(c) - 32 for c in text)]
    if not all(0 <= v < 95 for v in values[1:]):
        raise ValueError(f"{text!r}: code set B holds printable ASCII only")
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    out = [0] * QUIET
    for widths in [WIDTHS[v] for v in values] + [WIDTHS[check], STOP]:
        for index, width in enumerate(widths):
            out += [1 - index % 2] * int(width)
    return out + [0] * QUIET


def image(text: str, module_px: int = 3, height: int = 90) -> np.ndarray:
    """A grayscale image of ``text`` as a Code 128 barcode (black bars on white)."""
    row = np.array([0 if m else 255 for m in modules(text)], np.uint8).repeat(module_px)
    return np.pad(np.tile(row, (height, 1)), 20, constant_values=255)
