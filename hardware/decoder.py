"""Find QR codes and Code 128 barcodes in camera frames with ZBar (through pyzbar)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
from pyzbar.pyzbar import ZBarSymbol, decode

from kiosk.ports import Frame, Symbol


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
        if frame.ndim == 3:
            # pyzbar would keep only the blue channel of a colour frame: convert properly.
            code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            frame = cv2.cvtColor(frame, code)
        return [Symbol(data=found.data, kind=found.type)
                for found in decode(frame, symbols=self.symbols)]
