"""The small interfaces the core needs from the outside world.

Adapters in ``hardware/`` (gpiozero, OpenCV, pyzbar), ``kiosk/channels`` and
``kiosk/store/`` (SQLite) satisfy them; tests use recording fakes of these, never mocks of
someone else's library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from kiosk.domain import (
    Announcement,
    AuditRecord,
    DoorTask,
    Household,
    HouseholdId,
    ParcelKind,
    ParcelRecord,
    ParcelStatus,
    PickupCode,
    Problem,
    QueuedNotice,
    Slot,
    SlotLoad,
    TaskStatus,
)

# "on": a courier's check-in; "blink": a resident's pickup; "collect": a team fetching its
# door-delivery parcels (a double blink of its own, kiosk.collect); "alarm": a fast blink on
# a slot whose button was pressed by mistake and on the slot meant (kiosk.placing); "audit":
# the slot a shelf audit is checking (kiosk.audit), long on and briefly off, once a second.
LightMode = Literal["on", "blink", "collect", "alarm", "audit"]

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


class StillEncoder(Protocol):
    def encode(self, frame: Frame) -> bytes:
        """Return the frame as a small JPEG (a still kept with the scan's events)."""


class CameraLook(Protocol):
    def look(self, frame: Frame) -> tuple[bytes, dict[str, Any]]:
        """The frame as a JPEG for the camera view, and what an installer needs of it (the
        codes' outlines and pixels per module, the frame's white and glare; no code's text)."""


class SlotLights(Protocol):
    def show(self, states: Mapping[str, LightMode]) -> None:
        """Light exactly these slots (by slot code) in these modes; every other slot goes dark."""

    def close(self) -> None:
        """Switch everything off and release the pins."""


class SlotButtons(Protocol):
    """The slots' buttons (hardware/buttons.py): which slots have one, and what was pressed."""

    slots: frozenset[str]
    on_press: Callable[[], None] | None  # told of each press, on the button's own thread

    def presses(self) -> list[str]:
        """The slots whose button was pressed since the last call, oldest first."""

    def close(self) -> None: ...


class Buzzer(Protocol):
    def confirm(self) -> None:
        """One short beep: the scan was accepted."""

    def warn(self) -> None:
        """A longer pattern: the scan was refused."""

    def close(self) -> None: ...


class Attachment:
    """A file sent with a notice. ``data`` is given as bytes, or as a function that makes them:
    then they are made on first use and kept, so a channel that never sends the file (an SMS,
    a group bot) never pays for drawing it (the pickup QR, ``kiosk.notices.render``)."""

    __slots__ = ("filename", "content_type", "inline_id", "_data")

    def __init__(self, filename: str, content_type: str, data: bytes | Callable[[], bytes],
                 inline_id: str = "") -> None:
        self.filename, self.content_type = filename, content_type
        self.inline_id = inline_id  # shown inside the HTML body too, as <img src="cid:...">
        self._data = data

    @property
    def data(self) -> bytes:
        """The bytes, made now if not yet (once: the e-mail uses them twice, inline and
        attached). No lock: one notice is sent by one worker thread."""
        if callable(self._data):
            self._data = self._data()
        return self._data

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {self.content_type!r}, inline_id={self.inline_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attachment):
            return NotImplemented
        return ((self.filename, self.content_type, self.inline_id, self.data)
                == (other.filename, other.content_type, other.inline_id, other.data))

    def __hash__(self) -> int:  # a Notice is hashable; the bytes need not be made for it
        return hash((self.filename, self.content_type, self.inline_id))


@dataclass(frozen=True)
class Notice:
    """A rendered message ready for one channel and one recipient."""

    recipient: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    html: str = ""  # the same words laid out for a mail reader; channels without HTML use body
    short: str = ""  # the gist in one language, one SMS long (kiosk.notices.render); "" none


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

    files: UploadedFiles  # the household lists uploaded on the staff site


class Parcels(Protocol):
    def by_label(self, label: str) -> ParcelRecord | None: ...

    def add(self, label: str, ref: str, household: str, slot: str, code_id: int | None,
            now: datetime, *, kind: ParcelKind = ParcelKind.SHELF, symbology: str | None = None,
            room_confirmed: bool = True, fresh: bool = False) -> int:
        """Store a waiting parcel keyed by ``label`` (a shelf label's payload or a carrier code)."""

    def waiting_for(self, household: str) -> list[ParcelRecord]: ...

    def close(self, parcel_id: int, now: datetime) -> None: ...

    def unplaced(self, since: datetime) -> list[ParcelRecord]:
        """Waiting parcels checked in after ``since`` to a slot with a button not yet pressed
        for them, oldest first."""

    def place(self, parcel_id: int, now: datetime) -> None:
        """Record that the slot's button confirmed the parcel in it."""

    def load(self) -> dict[str, SlotLoad]:
        """How full each slot is now, from the waiting parcels."""

    def get(self, parcel_id: int) -> ParcelRecord | None: ...

    def move(self, parcel_id: int, slot: str) -> None:
        """Put a waiting parcel in another slot."""

    def end(self, parcel_id: int, status: ParcelStatus, now: datetime) -> None:
        """Take a waiting parcel off the shelf as ``status``."""

    def release_label(self, parcel_id: int) -> None:
        """Free a withdrawn parcel's label, so the same label may check in again."""

    def confirm_room(self, parcel_id: int) -> None: ...

    def mark_fresh(self, parcel_id: int) -> None:
        """Mark a parcel as fresh food (its door task goes first)."""


class PickupCodes(Protocol):
    def active_for(self, household: str) -> PickupCode | None: ...

    def get(self, code_id: int) -> PickupCode | None: ...

    def find_active(self, code: str) -> PickupCode | None: ...

    def active_count(self) -> int:
        """How many codes are active: what a code typed alone is checked against."""

    def with_code(self, code: str, limit: int = 2) -> list[PickupCode]:
        """The newest rows (at most ``limit``) that ever held ``code``, active or used."""

    def used_since(self, code: str, since: datetime) -> bool:
        """True when ``code`` opened someone's parcels at or after ``since``."""

    def add(self, household: str, code: str, now: datetime) -> PickupCode | None:
        """Store a new active code; None when that code is already active for someone."""

    def use(self, code_id: int, now: datetime) -> None: ...

    def revoke(self, code_id: int, now: datetime, reason: str | None = None) -> None:
        """Withdraw an active code: it opens nothing any more (and is not drawn again soon)."""


class ExpectedParcels(Protocol):
    def get(self, code: str) -> Announcement | None: ...

    def add(self, announcement: Announcement) -> None: ...

    def use(self, code: str, parcel_id: int, now: datetime) -> None:
        """Mark the announcement as met by ``parcel_id``."""

    def mark_fresh(self, code: str) -> None: ...

    def remove(self, code: str) -> None:
        """Forget an announcement (withdrawn: its event keeps what it said)."""


class Events(Protocol):
    def add(self, kind: str, actor: str, now: datetime, *, parcel: int | None = None,
            household: str | None = None, slot: str | None = None, **detail: Any) -> None: ...

    def recorded(self, kind: str, parcel: int) -> bool:
        """True when an event of ``kind`` names ``parcel``."""

    def camera_lost(self) -> bool:
        """True when the newest of the ``camera_lost``/``camera_back`` events is a loss."""


class Outbox(Protocol):
    def add(self, kind: str, channel: str, recipient: str, payload: Mapping[str, Any],
            now: datetime, *, household: str | None = None, parcel: int | None = None,
            contacts: Sequence[tuple[str, str]] = ()) -> int:
        """Queue a notice to ``recipient`` on ``channel``, the first of ``contacts`` if given."""

    def due(self, now: datetime, limit: int = 20) -> list[QueuedNotice]: ...

    def claim(self, now: datetime, worker: str, lease_until: datetime, *,
              skip_channels: Iterable[str] = (), skip_ids: Iterable[int] = ()
              ) -> QueuedNotice | None:
        """Claim the oldest due notice no live lease holds, until ``lease_until``."""

    def mark_sent(self, notice_id: int, now: datetime) -> None: ...

    def mark_failed(self, notice_id: int, error: str, retry_at: datetime | None, *,
                    worker: str | None = None) -> bool:
        """Record a failed attempt; retry at ``retry_at``, or give up when it is None."""

    def fall_back(self, notice_id: int, error: str, now: datetime, *,
                  worker: str | None = None) -> bool:
        """Count a failed attempt and move on to the chain's next contact, due now."""

    def postpone(self, notice_id: int, until: datetime, worker: str) -> bool:
        """Give a claimed notice back unsent, due at ``until``, no attempt counted."""

    def failed(self, ids: Iterable[int] | None = None) -> list[QueuedNotice]:
        """Notices that gave up: all of them, or those among ``ids``."""

    def status(self, notice_id: int) -> str | None:
        """'pending', 'sent' or 'failed'; None when there is no such notice."""

    def requeue(self, notice_id: int, now: datetime) -> None:
        """Make a failed notice pending again, due now, from its first contact."""


class Signals(Protocol):
    def set(self, slot: str, mode: LightMode, until: datetime, reason: str) -> None: ...

    def lit_for(self, reason: str, now: datetime) -> dict[str, datetime]:
        """Slot code -> until when, for the gate's lights of ``reason`` lasting at ``now``."""

    def clear(self, slot: str | None = None, *, reason: str | None = None) -> None:
        """Darken the gate's light of ``slot``, or every gate light of ``reason``."""

    def active(self, now: datetime) -> dict[str, LightMode]:
        """Slot code -> mode for every slot that should be lit at ``now``.

        A slot lit for a courier or a resident shows that while it lasts; a team's "collect"
        shows where nothing else does.
        """


class Attempts(Protocol):
    def add(self, source: str, ok: bool, now: datetime) -> None: ...

    def wait_needed(self, source: str, max_failures: int, window: timedelta,
                    now: datetime) -> int:
        """Seconds ``source`` must wait before trying again (0: it may try now)."""

    def failures(self, source: str, since: datetime, limit: int) -> list[datetime]:
        """When ``source`` failed at or after ``since``: the newest ``limit``, newest first."""

    def prune(self, prefix: str, before: datetime) -> int:
        """Forget the attempts of sources starting with ``prefix`` made before ``before``."""


class Slots(Protocol):
    def sync(self, slots: Iterable[Slot]) -> None: ...


class Stills(Protocol):
    """The camera's still of a scan, kept with every event that scan records, for a while."""

    def attached(self, jpeg: bytes | None) -> AbstractContextManager[None]:
        """Within: every event recorded gets ``jpeg`` as its still, in the event's transaction."""

    def prune(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete at most ``limit`` stills taken before ``before``; return how many."""


@dataclass(frozen=True)
class ListFile:
    """A list (the day's observation list, a household list) as it was received: its bytes,
    known by their SHA-256, and what they read as when uploaded."""

    sha256: str
    name: str
    data: bytes | None  # None once deleted, after [web] uploads_days
    reading: str | None = None  # kiosk.csvfile.reading_of, kept at upload (None: not read)
    deleted_at: datetime | None = None


class UploadedFiles(Protocol):
    """Lists as received, kept by their SHA-256 for [web] uploads_days, then deleted."""

    def keep(self, sha256: str, name: str, data: bytes, reading: str | None, now: datetime,
             actor: str) -> None:
        """Keep a list's bytes (and what they read as) under their hash; the same bytes again
        are kept again from ``now`` (and come back, if they were deleted)."""

    def get(self, sha256: str) -> ListFile | None: ...

    def prune(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete the bytes of at most ``limit`` lists kept since before ``before``."""


@dataclass(frozen=True)
class AppliedList:
    """One entry of the observation register: a day's list applied, by whom and when."""

    id: int
    applied_at: datetime
    actor: str
    list_date: date
    source: str
    file_name: str
    sha256: str
    format: str  # "status" (added/released rows) or "full" (everyone under observation)
    added: int
    released: int
    unchanged: int
    unknown: int
    problems: int  # more than 0: applied with its problems confirmed


class ObservationRegister(Protocol):
    files: UploadedFiles  # the day's lists as received

    def add(self, entry: AppliedList) -> int:
        """Record a list as applied; return its id in the register."""

    def last_applied(self, sha256: str, list_date: date, source: str) -> AppliedList | None:
        """The latest time these bytes were applied as this day's list from this source."""


class DoorTasks(Protocol):
    def get(self, task_id: int) -> DoorTask | None: ...

    def open_for(self, household: str) -> DoorTask | None:
        """The household's open task, if it has one (it never has two)."""

    def open(self) -> list[DoorTask]:
        """Every open task, oldest first."""

    def add(self, household: str, team: str, now: datetime, *, fresh: bool = False) -> int: ...

    def link(self, task_id: int, parcel_id: int) -> None: ...

    def parcels(self, task_id: int) -> list[ParcelRecord]:
        """The task's parcels, oldest first, whatever their status."""

    def assign(self, task_id: int, team: str, now: datetime) -> None: ...

    def mark_fresh(self, task_id: int, now: datetime) -> None: ...

    def escalate(self, task_id: int, level: int) -> None: ...

    def untold(self) -> list[DoorTask]:
        """Open tasks no team has been told of yet, oldest first."""

    def mark_told(self, task_ids: Iterable[int], now: datetime) -> None:
        """Record that the team holding each task was told of it (the first time stays)."""

    def close(self, task_id: int, status: TaskStatus, now: datetime, actor: str,
              reason: str | None = None) -> None:
        """Deliver or cancel an open task (``reason``: why it was cancelled)."""


@dataclass(frozen=True)
class StaffMember:
    """A staff account as the store keeps it: the password only as its hash."""

    username: str
    name: str
    role: str  # admin, committee, property or gate (kiosk.staff.ROLES)
    team: str | None  # a [[teams]] id, for committee and property; None otherwise
    password_hash: str = field(repr=False)
    credential: int  # raised by a password reset and a disable: sessions of before end
    disabled: bool
    created_at: datetime
    updated_at: datetime


class Staff(Protocol):
    """Staff accounts; a username is found whatever its case (``Li`` is ``li``)."""

    def get(self, username: str) -> StaffMember | None: ...

    def all(self) -> list[StaffMember]:
        """Every account, disabled ones too, by username."""

    def add(self, member: StaffMember) -> None: ...

    def update(self, member: StaffMember) -> None:
        """Store everything but the username and ``created_at`` as ``member`` has it."""

    def enabled_admins(self) -> int: ...


class StaffSessions(Protocol):
    def end_for(self, username: str, now: datetime) -> int:
        """End every live session of ``username``; return how many."""


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
    stills: Stills
    observation: ObservationRegister
    tasks: DoorTasks
    staff: Staff
    sessions: StaffSessions
    reminders: Reminders
    audits: Audits

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...


class Audits(Protocol):
    """The shelf audits (kiosk.audit): the open one, its slots, its problems (SQLite only:
    audits stay on their gate)."""

    def open(self) -> AuditRecord | None:
        """The running or paused audit, if any."""

    def get(self, audit_id: int) -> AuditRecord | None: ...

    def start(self, by: str, now: datetime) -> int: ...

    def go_to(self, audit_id: int, slot: str | None) -> None: ...

    def set_status(self, audit_id: int, status: str) -> None: ...

    def end(self, audit_id: int, by: str, now: datetime, slots_left: int) -> None: ...

    def check(self, audit_id: int, slot: str, by: str, how: str, listed: int,
              now: datetime) -> None: ...

    def to_check(self, audit_id: int, after: str | None) -> list[str]:
        """Slots holding parcels not confirmed yet, in shelf order after ``after``."""

    def listed(self, slot: str) -> list[ParcelRecord]:
        """The parcels the store says ``slot`` holds, oldest first."""

    def find_parcel(self, text: str) -> ParcelRecord | None:
        """The newest parcel whose waybill or label is ``text``."""

    def note(self, audit_id: int, kind: str, slot: str, now: datetime, by: str, *,
             parcel: int | None = None, home_slot: str | None = None,
             waybill: str | None = None) -> None: ...

    def problems(self, audit_id: int) -> list[Problem]: ...


class Reminders(Protocol):
    """What was said about parcels still waiting (kiosk.notices.reminders): once per round."""

    def waiting_since(self, before: datetime) -> list[ParcelRecord]:
        """Waiting parcels checked in at or before ``before``, oldest first."""

    def said(self, parcels: Iterable[int]) -> set[tuple[int, str]]:
        """(parcel, round) pairs already said for these parcels."""

    def add(self, parcel: int, round: str, household: str, now: datetime) -> None:
        """Record that ``round`` was said (or tried: no channel) for ``parcel``."""
