"""Pure rules of the shelf: households, slots and where a parcel goes. No I/O here.

The incident this product exists for: a parcel for 24-2304 carried to 24-2403. Households are
therefore always compared by their full identity (building and room), never by a fuzzy match.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from kiosk.errors import InvalidCarrierCode, InvalidPhoneTail, UnknownHousehold

ROOM_PATTERN = r"[0-9A-Z]{1,6}"
HOUSEHOLD_PATTERN = rf"\d{{1,3}}-{ROOM_PATTERN}"  # labels embed it too
ROOM_RE = re.compile(rf"^{ROOM_PATTERN}$")
# How people type a flat, once NFKC has made full-width digits and marks ASCII: 24-2304,
# 24栋2304室, 24/2304, 24 2304, 24号楼2304, 24幢-2304, 24#2304. The one definition of a typed
# room: every command option, form, API body and search box reads it through HouseholdId.parse.
BUILDING_MARK = r"(?:号楼|栋|幢|楼|座|#)"
ROOM_SEPARATOR = rf"(?:{BUILDING_MARK}\s*[-/]?|[-/\u2013\u2014]|\s)"
ROOM_MARK = r"(?:室|号|房)?"
TYPED_HOUSEHOLD_RE = re.compile(
    rf"^(\d{{1,3}})\s*{ROOM_SEPARATOR}\s*({ROOM_PATTERN})\s*{ROOM_MARK}$")
# A carrier's tracking number (SF, JD, ZTO, EMS ...) as its Code 128 or QR code carries it.
CARRIER_CODE_RE = re.compile(r"^[0-9A-Za-z-]{6,40}$")
# Several phones in the household list's phone column: "13800002304;13900001234". A Chinese
# keyboard types the full-width semicolon, so that one separates too.
PHONE_SEPARATORS = re.compile(r"[;\uff1b]")
PHONE_TAIL_DIGITS = 4  # Chinese waybills show a phone as 138****1234


@dataclass(frozen=True)
class HouseholdId:
    """A flat, named by building and room: ``24-2304``."""

    building: int
    room: str

    def __str__(self) -> str:
        return f"{self.building}-{self.room}"

    @classmethod
    def parse(cls, text: str) -> HouseholdId:
        """Parse a flat as stored or typed (``24-2304``, ``24栋2304室``, ``24/2304``: see
        ``TYPED_HOUSEHOLD_RE``), or raise UnknownHousehold saying how to type one.

        Full-width characters are read as ASCII, spaces trimmed, letters upper-cased and
        leading zeros dropped from the building and the room (``024-02304`` is ``24-2304``;
        see ``canonical_room``).
        """
        match = TYPED_HOUSEHOLD_RE.match(unicodedata.normalize("NFKC", text).strip().upper())
        room = canonical_room(match.group(2)) if match else None
        if not match or room is None:
            raise UnknownHousehold(f"{text!r} is not a household: expected building-room, "
                                   "e.g. 24-2304, 24栋2304室 or 24/2304", typed=text)
        return cls(int(match.group(1)), room)

    def masked(self) -> str:
        """The form shown to people who need not know the flat: ``24-23**``."""
        keep = max(1, len(self.room) - 2)
        return f"{self.building}-{self.room[:keep]}{'*' * (len(self.room) - keep)}"


def canonical_room(text: str) -> str | None:
    """The room as stored, or None when ``text`` is not 1-6 letters or digits.

    Leading zeros are dropped: a spreadsheet drops them from numbers anyway, so ``02310`` and
    ``2310`` must name the same flat, not two.
    """
    room = text.strip().upper()
    if not ROOM_RE.match(room):
        return None
    return room.lstrip("0") or None


def confusable(a: str, b: str) -> bool:
    """True when two different ids are easy to mix up: one character differs, or two are swapped.

    ``24-2304`` and ``24-2403`` (the incident), ``24-2304`` and ``24-2305``.
    """
    if a == b or len(a) != len(b):
        return False
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differ) == 1:
        return True
    return len(differ) == 2 and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]]


def mask_phone(phone: str) -> str:
    """``13800002304`` -> ``138****2304``: enough to tell two numbers apart, not to call.

    Several phones (``a;b``) are masked one by one.
    """
    if PHONE_SEPARATORS.search(phone):
        return ";".join(mask_phone(p) for p in split_phones(phone))
    if len(phone) >= 8:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * len(phone)


def split_phones(text: str) -> tuple[str, ...]:
    """The numbers of a phone column: ``"138 0000 2304; 139-0000-1234"`` -> two numbers."""
    return tuple(p for p in (part.strip() for part in PHONE_SEPARATORS.split(text)) if p)


def join_phones(text: str) -> str:
    """A phone column as stored: its numbers separated by ``;`` alone, no empty ones."""
    return ";".join(split_phones(text))


def phone_tail(number: str) -> str | None:
    """The last four digits of a phone number (what a waybill shows), None with fewer."""
    digits = re.sub(r"\D", "", number)
    return digits[-PHONE_TAIL_DIGITS:] if len(digits) >= PHONE_TAIL_DIGITS else None


def parse_phone_tail(text: str | None) -> str | None:
    """A typed phone tail: four digits, or None when nothing was typed; else InvalidPhoneTail."""
    if text is None or not text.strip():
        return None
    tail = text.strip()
    if not (len(tail) == PHONE_TAIL_DIGITS and tail.isascii() and tail.isdigit()):
        raise InvalidPhoneTail("type the last 4 digits of the phone number on the waybill")
    return tail


def carrier_code(text: str) -> str | None:
    """A tracking number as the shelf keys it (upper case), or None if ``text`` is not one.

    Shelf labels and passes contain ':' and URLs '/', so neither is ever taken for one.
    """
    code = text.strip()
    return code.upper() if CARRIER_CODE_RE.match(code) else None


def parse_carrier_code(text: str) -> str:
    """A typed or announced tracking number, or InvalidCarrierCode saying what one looks like."""
    code = carrier_code(text)
    if code is None:
        raise InvalidCarrierCode("a tracking number is 6-40 letters, digits or '-', e.g. "
                                 "SF1234567890")
    return code


def mask_email(email: str) -> str:
    """``chen@example.org`` -> ``c***@example.org``."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at and local else "*" * min(len(email), 3)


def mask_household(text: str) -> str:
    """Mask a household id for screens, group notices and logs; leave non-ids unchanged."""
    try:
        return HouseholdId.parse(text).masked()
    except UnknownHousehold:
        return text


def mask_path(path: str) -> str:
    """A URL path for a log line: its household ids masked (``/households/24-23**``)."""
    return "/".join(map(mask_household, path.split("/")))


@dataclass(frozen=True)
class Household:
    id: HouseholdId
    name: str = ""
    phone: str = ""  # one number, or several separated by ';' (see split_phones)
    email: str = ""
    under_observation: bool = False

    @property
    def phone_tails(self) -> frozenset[str]:
        """The last four digits of each of the household's phones."""
        return frozenset(t for t in map(phone_tail, split_phones(self.phone)) if t)


def confusable_with(target: HouseholdId, others: Iterable[HouseholdId]) -> list[HouseholdId]:
    """The households of ``target``'s building whose room is easy to mix up with its room.

    ``24-2403`` for ``24-2304`` (swapped digits), ``24-2305`` (one digit off); never another
    building's, never ``target`` itself. In room order.
    """
    near = {o for o in others
            if o.building == target.building and confusable(o.room, target.room)}
    return sorted(near, key=lambda h: (len(h.room), h.room))


class RoomVerdict(StrEnum):
    """What a typed room (with the waybill's phone tail, if any) comes to."""

    UNKNOWN = "unknown"  # not in the household list: refuse, suggest near rooms
    ASK_PHONE = "ask_phone"  # exists, but easily confused: ask for the phone tail
    MISMATCH = "mismatch"  # the tail belongs to a confusable neighbour: let the courier choose
    CONFIRMED = "confirmed"  # check in
    UNCONFIRMED = "unconfirmed"  # check in, marked "room not confirmed" for the staff

    @property
    def checks_in(self) -> bool:
        return self in (RoomVerdict.CONFIRMED, RoomVerdict.UNCONFIRMED)


@dataclass(frozen=True)
class RoomCheck:
    verdict: RoomVerdict
    suggestions: tuple[str, ...] = ()  # household ids the courier may have meant


def check_typed_room(typed: HouseholdId, households: Iterable[Household],
                     tail: str | None, *, keep_room: bool = False,
                     announced: bool = False) -> RoomCheck:
    """Decide whether a parcel may go to the room a courier typed from a waybill.

    ``households`` must hold at least every household of ``typed``'s building. In order:
    a room not in the list is UNKNOWN (suggesting its confusable neighbours); a room without
    confusable neighbours and no tail is CONFIRMED; with neighbours and no tail, ASK_PHONE
    (suggesting them); a tail that fits the typed room is CONFIRMED; one that fits a neighbour
    instead is a MISMATCH (suggesting those it fits); any other tail is UNCONFIRMED.
    ``keep_room`` (the courier chose the typed room over the suggestions) turns ASK_PHONE and
    MISMATCH into UNCONFIRMED: the parcel goes where the courier said, for staff to check.
    ``announced`` (the code was announced for ``typed``): the courier's reading of the waybill
    and the announcement agree, which settles a confusable room as a phone would: ASK_PHONE and
    UNCONFIRMED are CONFIRMED; a tail that fits a neighbour still is a MISMATCH.
    """
    in_building = {h.id: h for h in households if h.id.building == typed.building}
    near = confusable_with(typed, in_building)
    suggested = tuple(map(str, near))
    household = in_building.get(typed)
    if household is None:
        return RoomCheck(RoomVerdict.UNKNOWN, suggested)
    settled = not near or announced
    if tail is None:
        if not settled and not keep_room:
            return RoomCheck(RoomVerdict.ASK_PHONE, suggested)
        return RoomCheck(RoomVerdict.CONFIRMED if settled else RoomVerdict.UNCONFIRMED)
    if tail in household.phone_tails:
        return RoomCheck(RoomVerdict.CONFIRMED)
    fits = tuple(str(h) for h in near if tail in in_building[h].phone_tails)
    if fits and not keep_room:
        return RoomCheck(RoomVerdict.MISMATCH, fits)
    return RoomCheck(RoomVerdict.CONFIRMED if announced and not fits
                     else RoomVerdict.UNCONFIRMED)


def parse_buildings(spec: str | Iterable[int]) -> frozenset[int]:
    """Turn ``"1-28, 30"`` (or a list of numbers) into a set of building numbers."""
    if not isinstance(spec, str):
        return frozenset(int(b) for b in spec)
    buildings: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lo, sep, hi = part.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise ValueError(f"{part!r} is not a building number or range like 1-28")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"{part!r}: a range must go upwards")
        buildings.update(range(first, last + 1))
    return frozenset(buildings)


def format_buildings(buildings: Iterable[int]) -> str:
    """The inverse of parse_buildings: ``{1, 2, 3, 5}`` -> ``"1-3,5"``."""
    numbers = sorted(buildings)
    runs: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if start is not None and (n is None or n != prev + 1):
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ",".join(runs)


@dataclass(frozen=True)
class Slot:
    """One numbered place on a shelf, e.g. ``A-07``. Empty ``buildings`` means any building."""

    code: str
    shelf: str
    position: int
    capacity: int
    buildings: frozenset[int] = field(default_factory=frozenset)
    overflow: bool = False
    button: bool = False  # a button confirms what goes in and out (hardware/buttons.py)

    def serves(self, building: int) -> bool:
        return not self.buildings or building in self.buildings


@dataclass(frozen=True)
class SlotLoad:
    """What is in a slot now: how many waiting parcels and for which households."""

    parcels: int = 0
    households: frozenset[str] = field(default_factory=frozenset)


def choose_slot(
    household: HouseholdId,
    slots: Iterable[Slot],
    load: Mapping[str, SlotLoad],
    overflow: Slot,
) -> Slot:
    """Pick where a new parcel for ``household`` goes.

    In order: a slot already holding this household's parcels that still has room (so a
    resident collects from one place); an empty slot zoned for the building, then an empty
    any-building slot (one household per slot where possible: 2304's parcel should not sit
    beside 2403's); then the least full slot with room; the overflow place when all are full.
    """
    key = str(household)
    candidates = [s for s in slots if not s.overflow and s.serves(household.building)]

    def room(slot: Slot) -> int:
        return slot.capacity - load.get(slot.code, SlotLoad()).parcels

    with_room = [s for s in candidates if room(s) > 0]
    for slot in with_room:
        if key in load.get(slot.code, SlotLoad()).households:
            return slot
    with_room.sort(key=lambda s: (room(s) < s.capacity, not s.buildings, -room(s), s.position))
    return with_room[0] if with_room else overflow


class ParcelStatus(StrEnum):
    """Where a parcel is in its life: on the shelf, or gone (to its household, or otherwise)."""

    WAITING = "waiting"
    COLLECTED = "collected"  # by its household: a code, a pass, the door, or staff after an ID
    RETURNED = "returned"  # to the courier (kiosk.staff_actions), after waiting too long
    WITHDRAWN = "withdrawn"  # a mistaken check-in undone: it was never the shelf's


class ParcelKind(StrEnum):
    """What a parcel is keyed by: the shelf's own signed label, or a carrier's tracking number."""

    SHELF = "shelf"
    CARRIER = "carrier"


@dataclass(frozen=True)
class ParcelRecord:
    """A parcel as the store knows it. ``label`` is its key: the label, or the carrier code."""

    id: int
    label: str
    ref: str
    household_id: str
    slot_code: str
    status: ParcelStatus
    pickup_code_id: int | None
    kind: ParcelKind = ParcelKind.SHELF
    room_confirmed: bool = True  # False: typed at the gate and not settled; staff check it
    fresh: bool = False  # fresh food: its door task goes first
    checked_in_at: datetime | None = None  # when it came: what its notices say, whenever sent


@dataclass(frozen=True)
class TokenScope:
    """What a tool's bearer token may touch: households of ``buildings`` (None: every one) and
    tracking numbers starting with one of ``carriers`` (empty: any carrier's).

    A parcel without a tracking number (the shelf's own label) is outside a carrier's scope.
    """

    buildings: frozenset[int] | None = None
    carriers: tuple[str, ...] = ()

    def covers(self, household: HouseholdId, code: str | None) -> bool:
        """True when the token may announce or see ``code`` for ``household``."""
        if self.buildings is not None and household.building not in self.buildings:
            return False
        if not self.carriers:
            return True
        return code is not None and code.upper().startswith(self.carriers)

    def describe(self) -> str:
        """The scope in words, for a refusal: ``buildings 24-26; tracking numbers SF…, JD…``."""
        parts = [f"buildings {format_buildings(self.buildings)}"
                 if self.buildings is not None else "every building"]
        if self.carriers:
            parts.append("tracking numbers " + ", ".join(f"{c}…" for c in self.carriers))
        return "; ".join(parts)


@dataclass(frozen=True)
class Announcement:
    """A parcel a household said it expects, by its carrier's tracking number."""

    code: str
    household_id: str
    announced_by: str
    announced_at: datetime
    used_at: datetime | None = None  # when a parcel with this code was checked in
    parcel_id: int | None = None
    fresh: bool = False  # fresh food: checks in marked fresh


@dataclass(frozen=True)
class PickupCode:
    """A household's pickup code; ``used_at`` is set once it has opened the household's slots,
    or once it is withdrawn (``revoked_at`` too): either way it opens nothing any more."""

    id: int
    household_id: str
    code: str
    created_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None  # withdrawn (the household went under observation)
    revoked_reason: str | None = None  # why: None = observation; see kiosk.staff_actions


@dataclass(frozen=True)
class QueuedNotice:
    """One row of the outbox: the facts of a notice waiting to be rendered and sent."""

    id: int
    kind: str
    channel: str
    recipient: str
    household_id: str | None
    parcel_id: int | None
    payload: str  # JSON; parsed by the sender, since a bad row must fail alone
    attempts: int  # on every contact of its chain
    contacts: str = "[]"  # JSON [[channel, recipient], ...] in order of preference
    contact_index: int = 0  # which of them ``channel`` and ``recipient`` are
    contact_attempts: int = 0  # attempts on that one

    def chain(self) -> list[tuple[str, str]]:
        """The contacts to try in turn; a row queued before chains is its one contact."""
        try:
            contacts = [(str(c), str(r)) for c, r in json.loads(self.contacts)]
        except (ValueError, TypeError):
            contacts = []
        return contacts or [(self.channel, self.recipient)]

    def next_contact(self) -> tuple[str, str] | None:
        """The contact after the one being tried; None when this is the last."""
        chain = self.chain()
        return chain[self.contact_index + 1] if self.contact_index + 1 < len(chain) else None


class TaskStatus(StrEnum):
    """Where a door task is: to be carried, carried to the door, or called off."""

    OPEN = "open"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # released from observation, or its parcels collected at the shelf


@dataclass(frozen=True)
class DoorTask:
    """Carrying a household's waiting parcels to its door: one open task per household.

    ``team`` holds it now (a [[teams]] id); ``fresh_since`` is when fresh food joined it, from
    which its escalations are counted.
    """

    id: int
    household_id: str
    team: str
    status: TaskStatus
    created_at: datetime
    assigned_at: datetime
    fresh_since: datetime | None = None
    escalations: int = 0
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_reason: str | None = None  # why a cancelled task was called off
    told_at: datetime | None = None  # when its team was first told of it (kiosk.tasks)

    @property
    def fresh(self) -> bool:
        return self.fresh_since is not None


@dataclass(frozen=True)
class AuditRecord:
    """An audit as the store knows it; ``slot``: the slot being checked (None once done)."""

    id: int
    status: str  # running, paused, done
    slot: str | None
    started_at: datetime
    started_by: str


@dataclass(frozen=True)
class Problem:
    """A discrepancy an audit noted (``kind``: missing, extra, moved)."""

    id: int
    kind: str
    slot: str
    parcel: int | None
    home_slot: str | None
    waybill: str | None
