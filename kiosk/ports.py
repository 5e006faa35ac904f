"""The small interfaces the core needs from the outside world.

Adapters in ``hardware/`` (gpiozero, OpenCV, pyzbar) and ``kiosk/channels`` satisfy them;
tests use recording fakes of these, never mocks of someone else's library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

LightMode = Literal["on", "blink"]

# A camera frame: a numpy array (BGR or grayscale). Typed loosely so kiosk needs no cv2.
Frame = Any


@dataclass(frozen=True)
class Symbol:
    """One code found in a frame: its raw bytes and its symbology (``QRCODE``, ``CODE128``)."""

    data: bytes
    kind: str


class FrameSource(Protocol):
    def read(self) -> Frame | None:
        """Return the next frame, or None when the source has ended."""

    def close(self) -> None: ...


class Decoder(Protocol):
    def decode(self, frame: Frame) -> list[Symbol]:
        """Return every code found in the frame (empty when none)."""


class SlotLights(Protocol):
    def show(self, states: Mapping[str, LightMode]) -> None:
        """Light exactly these slots (by slot code) in these modes; every other slot goes dark."""

    def close(self) -> None:
        """Switch everything off and release the pins."""


class Buzzer(Protocol):
    def confirm(self) -> None:
        """One short beep: the scan was accepted."""

    def warn(self) -> None:
        """A longer pattern: the scan was refused."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Notice:
    """A rendered message ready for one channel and one recipient."""

    recipient: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class Channel(Protocol):
    name: str

    def send(self, notice: Notice) -> None:
        """Deliver the notice or raise NoticeError (the outbox retries later)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going backwards."""
