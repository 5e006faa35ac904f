"""The small interfaces the core needs from the outside world.

Adapters in ``hardware/`` (gpiozero, OpenCV, pyzbar), ``kiosk/notices/channels`` and
``kiosk/store.py`` (SQLite) satisfy them; tests use recording fakes of these, never mocks of
someone else's library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from kiosk.domain import (
    Announcement,
    Household,
    HouseholdId,
    ParcelKind,
    ParcelRecord,
    PickupCode,
    QueuedNotice,
    Slot,
    SlotLoad,
)

LightMode = Literal["on", "blink"]

# A camera frame: a numpy array (BGR or grayscale). Typed loosely so kiosk needs no cv2.
Frame = Any


@dataclass(frozen=True)
class Symbol:
    """One code found in a frame: its raw bytes and its symbology (``QRCODE``, ``CODE128``)."""

    data: bytes
    kind: str


class FrameSource(Protocol):
    """Where frames come from. A source that delivers at its own pace whether or not it is read
    (a camera, a video replayed in time) says so with ``paced = True``: the kiosk then decodes
    the newest frame and drops the others (``kiosk.grabber``); without it, every frame is read.
    """

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


# --- the store -------------------------------------------------------------------------------
# Repositories speak domain types. Inside ``with uow:`` everything is one transaction; a read
# outside it sees the last commit. A store that is locked or failing raises StoreUnavailable.

class Households(Protocol):
    def get(self, household: HouseholdId) -> Household | None: ...

    def all(self) -> list[Household]:
        """Every household, in building and room order."""

    def in_building(self, building: int) -> list[Household]:
        """Every household of one building."""

    def upsert(self, household: Household, now: datetime) -> str:
        """Insert or update; return 'added', 'changed' or 'same'."""


class Parcels(Protocol):
    def by_label(self, label: str) -> ParcelRecord | None: ...

    def add(self, label: str, ref: str, household: str, slot: str, code_id: int | None,
            now: datetime, *, kind: ParcelKind = ParcelKind.SHELF, symbology: str | None = None,
            room_confirmed: bool = True) -> int:
        """Store a waiting parcel keyed by ``label`` (a shelf label's payload or a carrier code)."""

    def waiting_for(self, household: str) -> list[ParcelRecord]: ...

    def close(self, parcel_id: int, now: datetime) -> None: ...

    def load(self) -> dict[str, SlotLoad]:
        """How full each slot is now, from the waiting parcels."""


class PickupCodes(Protocol):
    def active_for(self, household: str) -> PickupCode | None: ...

    def get(self, code_id: int) -> PickupCode | None: ...

    def find_active(self, code: str) -> PickupCode | None: ...

    def with_code(self, code: str, limit: int = 2) -> list[PickupCode]:
        """The newest rows (at most ``limit``) that ever held ``code``, active or used."""

    def used_since(self, code: str, since: datetime) -> bool:
        """True when ``code`` opened someone's parcels at or after ``since``."""

    def add(self, household: str, code: str, now: datetime) -> PickupCode | None:
        """Store a new active code; None when that code is already active for someone."""

    def use(self, code_id: int, now: datetime) -> None: ...


class ExpectedParcels(Protocol):
    def get(self, code: str) -> Announcement | None: ...

    def add(self, announcement: Announcement) -> None: ...

    def use(self, code: str, parcel_id: int, now: datetime) -> None:
        """Mark the announcement as met by ``parcel_id``."""


class Events(Protocol):
    def add(self, kind: str, actor: str, now: datetime, *, parcel: int | None = None,
            household: str | None = None, slot: str | None = None, **detail: Any) -> None: ...

    def camera_lost(self) -> bool:
        """True when the newest of the ``camera_lost``/``camera_back`` events is a loss."""


class Outbox(Protocol):
    def add(self, kind: str, channel: str, recipient: str, payload: Mapping[str, Any],
            now: datetime, *, household: str | None = None, parcel: int | None = None) -> int: ...

    def due(self, now: datetime, limit: int = 20) -> list[QueuedNotice]: ...

    def mark_sent(self, notice_id: int, now: datetime) -> None: ...

    def mark_failed(self, notice_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; retry at ``retry_at``, or give up when it is None."""

    def failed(self, ids: Iterable[int] | None = None) -> list[QueuedNotice]:
        """Notices that gave up: all of them, or those among ``ids``."""

    def status(self, notice_id: int) -> str | None:
        """'pending', 'sent' or 'failed'; None when there is no such notice."""

    def requeue(self, notice_id: int, now: datetime) -> None:
        """Make a failed notice pending again, due now, with its attempts counted from zero."""


class Signals(Protocol):
    def set(self, slot: str, mode: LightMode, until: datetime, reason: str) -> None: ...

    def active(self, now: datetime) -> dict[str, LightMode]:
        """Slot code -> mode for every slot that should be lit at ``now``."""


class Attempts(Protocol):
    def add(self, source: str, ok: bool, now: datetime) -> None: ...

    def wait_needed(self, source: str, max_failures: int, window: timedelta,
                    now: datetime) -> int:
        """Seconds ``source`` must wait before trying again (0: it may try now)."""

    def prune(self, prefix: str, before: datetime) -> int:
        """Forget the attempts of sources starting with ``prefix`` made before ``before``."""


class Slots(Protocol):
    def sync(self, slots: Iterable[Slot]) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over the repositories: commits when the ``with`` block ends normally.

    Entering a unit of work that is already open joins its transaction, so two use cases can
    share one.
    """

    households: Households
    parcels: Parcels
    codes: PickupCodes
    events: Events
    outbox: Outbox
    signals: Signals
    attempts: Attempts
    slots: Slots
    expected: ExpectedParcels

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...
