"""What the shelf does: check a parcel in, hand parcels out. Each use case is one transaction.

Use cases take what they act on, a unit of work (the store's port), the Rules they need and a
clock; they return an Outcome or raise the shelf's own error when they refuse. Entries call
them through ``act_on_payload`` / ``act_on_code`` / ``act_on_carrier``, the boundary that never
raises. Side effects on hardware happen only after the commit, in the caller, and only from
what was committed.

A parcel arrives with the shelf's own signed label, or with a carrier's waybill only: then its
tracking number (a **carrier code**) is its key. An announced code (``expect``) checks in once
the courier has confirmed it from the waybill: its phone's last four digits are one of the
announced household's, or the room typed from it is that household; any other needs the
building-room the courier types, checked against the rooms easily confused with it and the
waybill's phone digits (``kiosk.domain.check_typed_room``). The waybill wins: a room typed
that is not the announced one is where the parcel goes.

Every gate outcome is an event the gate's screen follows (``kiosk.queries.gate_events``):
``checked_in``, ``rescanned``, ``collected``, ``needs_room`` and ``scan_refused``; ``source``
in their details (the actor, for refusals) names the entry: camera, gate-keypad, cli.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from kiosk import labels
from kiosk.config import ChannelConfig, Config, Layout, PickupRules, Team
from kiosk.domain import (
    Announcement,
    Household,
    HouseholdId,
    ParcelKind,
    ParcelRecord,
    ParcelStatus,
    PickupCode,
    RoomVerdict,
    TokenScope,
    carrier_code,
    check_typed_room,
    choose_slot,
    confusable_with,
    mask_household,
    parse_carrier_code,
    parse_phone_tail,
)
from kiosk.errors import (
    AnnouncementMismatch,
    CodeTaken,
    ConfusableRoom,
    ForgedLabel,
    NotAnnounced,
    OutOfScope,
    ParcelClosed,
    PassOutdated,
    PassUsed,
    PhoneMismatch,
    PickupRefused,
    PickupThrottled,
    RoomRequired,
    UnknownHousehold,
)
from kiosk.keypad import ROOM_MEMORY, Keypad, keypad_state, lookback
from kiosk.labels import (
    MAX_PAYLOAD_BYTES,
    ParcelLabel,
    PickupPass,
    make_pass,
    parse_payload,
    pass_is_for,
)
from kiosk.notices.queue import queue_checkin, queue_collected, queue_waiting
from kiosk.outcome import Outcome, guarded
from kiosk.ports import Clock, LightMode, UnitOfWork
from kiosk.tasks import RELEASED, attach_parcel, cancel, collected_at_shelf
from kiosk.timefmt import iso, local_time

log = logging.getLogger(__name__)

COURIER = "courier@kiosk"
RESIDENT = "resident@kiosk"
CODE_REUSE_AFTER = timedelta(days=180)  # a used pickup code is not drawn again for this long
MAX_CODE_DRAWS = 50  # with a million codes, 50 unlucky draws in a row mean something is wrong


@dataclass(frozen=True)
class Rules:
    """The parts of the configuration the use cases need, and nothing else."""

    community_name: str
    label_secret: bytes = field(repr=False)
    pickup: PickupRules
    light_s: int
    layout: Layout
    channels: tuple[ChannelConfig, ...]
    timezone: tzinfo  # the community's: times told to people (a pass used at 18:04)
    teams: tuple[Team, ...] = ()  # who carries parcels to the door, when (kiosk.tasks)
    place_s: int = 60  # a slot with a button waits this long for it after a check-in

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        return cls(config.community.name, config.label_secret, config.pickup,
                   config.kiosk.light_s, config.layout, config.channels,
                   config.community.timezone, config.teams, config.kiosk.place_s)


def act_on_payload(data: bytes, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                   source: str = "camera", kind: str = "QRCODE") -> Outcome:
    """Do what a scanned payload asks: check a parcel in or hand parcels out; never raise.

    A payload that is not the shelf's own but looks like a tracking number is a carrier code
    (``kind`` is the symbology it came in: QRCODE, CODE128 ...).
    """
    code = _carrier_code(data)
    if code is not None:
        return act_on_carrier(code, uow, rules, clock, source=source, symbology=kind)

    def use_case() -> Outcome:
        payload = parse_payload(data, rules.label_secret)
        if isinstance(payload, ParcelLabel):
            return check_in(payload, uow, rules, clock, source=source)
        return pick_up_with_pass(payload, uow, rules, clock, source=source)

    return guarded(use_case, uow, clock, source)


def _carrier_code(data: bytes) -> str | None:
    """The tracking number a scanned payload is, or None (a shelf code, or garbage)."""
    if len(data) > MAX_PAYLOAD_BYTES:
        return None
    try:
        return carrier_code(data.decode("ascii"))
    except UnicodeDecodeError:
        return None


def act_on_code(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                source: str = "keypad", room: str | None = None) -> Outcome:
    """Hand out what a typed pickup code (and building-room) opens; never raise."""
    return guarded(lambda: pick_up(code, uow, rules, clock, source=source, room=room),
                   uow, clock, source)


def act_on_carrier(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                   room: str | None = None, phone_tail: str | None = None,
                   source: str = "keypad", symbology: str | None = None,
                   keep_room: bool = False, fresh: bool = False) -> Outcome:
    """Check a parcel in by its carrier code (and a typed room, phone tail); never raise.

    See ``check_in_carrier``; a refusal names the code and the households the courier may have
    meant (``suggestions``).
    """
    return guarded(lambda: check_in_carrier(code, uow, rules, clock, room=room,
                                            phone_tail=phone_tail, source=source,
                                            symbology=symbology, keep_room=keep_room,
                                            fresh=fresh),
                   uow, clock, source, code=carrier_code(code))


def check_in(label: ParcelLabel, uow: UnitOfWork, rules: Rules, clock: Clock,
             actor: str = COURIER, *, source: str = "camera") -> Outcome:
    """Put the labelled parcel in a slot, record it, queue the household's notice, light it."""
    now = clock.now()
    with uow:
        known = uow.parcels.by_label(label.payload)
        if known is not None:
            return _again(uow, rules, known, now, actor, source)
        household = uow.households.get(label.household)
        if household is None:
            raise _not_in_list(uow, label.household)
        outcome = _place(uow, rules, household, label.payload, label.ref, now, actor,
                         source=source, fresh=label.fresh)
    _log_checkin(outcome)
    return outcome


def check_in_carrier(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                     room: str | None = None, phone_tail: str | None = None,
                     actor: str = COURIER, source: str = "keypad",
                     symbology: str | None = None, keep_room: bool = False,
                     fresh: bool = False) -> Outcome:
    """Check in a parcel that carries only its carrier's waybill, keyed by its tracking number.

    In order: a parcel with this code already -> the same slot again (or already_collected).
    No ``room`` -> ``needs_room`` (recorded, for the gate's screen to ask), naming in
    ``announced`` the household the code was announced for, if any: an announcement is a
    claim, so the courier confirms it from the waybill before the slot lights, by the phone
    tail alone (one of that household's phones: checked in; else announcement_mismatch, and
    the courier types the room) or by typing the room. A typed room is checked with the phone
    tail against its confusable neighbours (``check_typed_room``; the announced room is
    settled by the announcement): refused (unknown_household, confusable_room,
    phone_mismatch, each with suggestions) or checked in, marked "room not confirmed" when
    nothing settled it. A typed room that is not the announced one wins: the check-in records
    whom the announcement named. One transaction: a refusal leaves no parcel.
    """
    key = parse_carrier_code(code)
    tail = parse_phone_tail(phone_tail)
    typed = HouseholdId.parse(room) if room and room.strip() else None
    now = clock.now()
    with uow:
        known = uow.parcels.by_label(key)
        if known is not None:
            return _again(uow, rules, known, now, actor, source)
        announced = uow.expected.get(key)
        claimed = announced.household_id if announced else None
        if typed is None and (announced is None or tail is None):
            uow.events.add("needs_room", source, now, code=key, symbology=symbology,
                           source=source, **({"announced": claimed} if claimed else {}))
            return Outcome("needs_room", code=key, announced=claimed)
        if typed is None:
            target = _announced_household(uow, claimed, tail)
        else:
            target = _typed_household(uow, typed, tail, keep_room,
                                      announced=str(typed) == claimed)
        met = str(target.household.id) == claimed
        outcome = _place_carrier(
            uow, rules, target.household, key, now, actor, source, symbology,
            confirmed=target.confirmed, via="announced" if met else "typed",
            fresh=fresh or (met and announced.fresh), announced=announced)
        if announced is not None:
            uow.expected.use(key, outcome.parcel, now)
    _log_checkin(outcome)
    return outcome


@dataclass(frozen=True)
class _TypedHousehold:
    household: Household
    confirmed: bool


def _announced_household(uow: UnitOfWork, claimed: str, tail: str) -> _TypedHousehold:
    """The announced household, when the waybill's phone tail is one of its phones."""
    household = uow.households.get(HouseholdId.parse(claimed))
    assert household is not None  # the store's foreign keys keep announced households
    if tail not in household.phone_tails:
        raise AnnouncementMismatch(f"the phone on the waybill is not the phone of "
                                   f"{mask_household(claimed)}, for whom it was announced: "
                                   "type the room on the waybill")
    return _TypedHousehold(household, True)


def _typed_household(uow: UnitOfWork, typed: HouseholdId, tail: str | None,
                     keep_room: bool, *, announced: bool = False) -> _TypedHousehold:
    """The household a typed room names, if the rule lets the parcel go there; else refuse.

    ``announced``: the code was announced for this very room (``check_typed_room``).
    """
    check = check_typed_room(typed, uow.households.in_building(typed.building), tail,
                             keep_room=keep_room, announced=announced)
    shown = typed.masked()
    if check.verdict is RoomVerdict.UNKNOWN:
        raise UnknownHousehold(f"{shown} is not in the household list: check the room on the "
                               "waybill", given=str(typed), suggestions=check.suggestions)
    if check.verdict is RoomVerdict.ASK_PHONE:
        raise ConfusableRoom(f"{shown} is easily confused with another room: type the last 4 "
                             "digits of the phone on the waybill", given=str(typed),
                             suggestions=check.suggestions)
    if check.verdict is RoomVerdict.MISMATCH:
        raise PhoneMismatch(f"the phone on the waybill belongs to another room than {shown}: "
                            "check the room on the waybill and choose", given=str(typed),
                            suggestions=check.suggestions)
    household = uow.households.get(typed)
    assert household is not None  # check_typed_room found it in the same transaction
    return _TypedHousehold(household, check.verdict is RoomVerdict.CONFIRMED)


def _not_in_list(uow: UnitOfWork, household: HouseholdId) -> UnknownHousehold:
    """The refusal for a household not in the list, suggesting the rooms easily confused."""
    near = confusable_with(household, [h.id for h in uow.households.in_building(
        household.building)])
    return UnknownHousehold(f"{household.masked()} is not in the household list",
                            given=str(household), suggestions=tuple(map(str, near)))


def _again(uow: UnitOfWork, rules: Rules, known: ParcelRecord, now: datetime, actor: str,
           source: str) -> Outcome:
    """A parcel scanned again: show the same slot, create nothing new; refuse a collected one."""
    code = known.label if known.kind is ParcelKind.CARRIER else None
    if known.status is ParcelStatus.RETURNED:
        raise ParcelClosed(f"parcel {known.id} for {mask_household(known.household_id)} was "
                           "returned to the courier; ask the staff before shelving it again")
    if known.status is not ParcelStatus.WAITING:
        raise ParcelClosed(f"parcel {known.id} for {mask_household(known.household_id)} was "
                           "already collected")
    uow.events.add("rescanned", actor, now, parcel=known.id, household=known.household_id,
                   slot=known.slot_code, source=source, code=code)
    light_slot(uow, rules, known.slot_code, "on", now, "rescan")
    return Outcome("checkin", known.household_id, known.slot_code, known.id,
                   (known.slot_code,), (known.id,), repeat=True, code=code,
                   room_confirmed=known.room_confirmed if code else None)


def _place_carrier(uow: UnitOfWork, rules: Rules, household: Household, code: str,
                   now: datetime, actor: str, source: str, symbology: str | None, *,
                   confirmed: bool, via: str, fresh: bool = False,
                   announced: Announcement | None = None) -> Outcome:
    """Check a carrier's parcel in; the event names the announcement of its code, if any
    (whom it named and who made it: a timeline shows one the waybill contradicted)."""
    detail: dict[str, object] = {"code": code, "symbology": symbology,
                                 "room_confirmed": confirmed, "via": via}
    if announced is not None:
        detail |= {"announced_for": announced.household_id,
                   "announced_by": announced.announced_by}
    outcome = _place(uow, rules, household, code, code, now, actor, source=source,
                     kind=ParcelKind.CARRIER, symbology=symbology, room_confirmed=confirmed,
                     fresh=fresh, detail=detail)
    return replace(outcome, code=code, room_confirmed=confirmed,
                   announced=announced and announced.household_id)


def _place(uow: UnitOfWork, rules: Rules, household: Household, key: str, ref: str,
           now: datetime, actor: str, *, source: str, kind: ParcelKind = ParcelKind.SHELF,
           symbology: str | None = None, room_confirmed: bool = True,
           detail: dict[str, object] | None = None, fresh: bool = False) -> Outcome:
    """Put a new parcel in a slot, record it, queue the household's notice, light the slot.

    A household under observation gets no pickup code: the parcel joins its door task
    (``kiosk.tasks.attach_parcel``), in this same transaction.
    """
    hid = str(household.id)
    slot = choose_slot(household.id, rules.layout.slots, uow.parcels.load(),
                       rules.layout.overflow)
    code = None if household.under_observation else _pickup_code(uow, hid, now)
    parcel = uow.parcels.add(key, ref, hid, slot.code, code and code.id, now, kind=kind,
                             symbology=symbology, room_confirmed=room_confirmed, fresh=fresh)
    uow.events.add("checked_in", actor, now, parcel=parcel, household=hid, slot=slot.code,
                   ref=ref, overflow=slot.overflow, source=source, **(detail or {}),
                   **({"fresh": True} if fresh else {}))
    task = (attach_parcel(uow, rules, household, parcel, now, actor, fresh=fresh)
            if household.under_observation else None)
    queue_checkin(uow, rules.community_name, rules.layout.place(slot), rules.channels,
                  household, slot, parcel, ref,
                  code and make_pass(rules.label_secret, hid, code.id, code.code),
                  code and code.code, now, keep_days=rules.pickup.return_after_days,
                  fresh=fresh, carrier=kind is ParcelKind.CARRIER)
    # A slot with a button stays lit until it is pressed (kiosk.placing), or place_s at most.
    light_slot(uow, rules, slot.code, "on", now, "checkin",
               seconds=rules.place_s if slot.button else None)
    return Outcome("checkin", hid, slot.code, parcel, (slot.code,), (parcel,),
                   door_delivery=household.under_observation, door_task=task)


def _log_checkin(outcome: Outcome) -> None:
    """Log a check-in once it is committed."""
    if outcome.repeat:
        return
    log.info("checked in parcel %s for %s into %s%s", outcome.parcel,
             mask_household(outcome.household or ""), outcome.slot,
             " (room not confirmed)" if outcome.room_confirmed is False else "")


@dataclass(frozen=True)
class Announced:
    """What ``expect`` did: the announcement, and whether this call made it."""

    announcement: Announcement
    created: bool

    def as_json(self) -> dict[str, object]:
        """The stable shape of ``shelf expect --json`` and ``POST /api/expected``."""
        a = self.announcement
        return {"code": a.code, "household": a.household_id, "announced_by": a.announced_by,
                "announced_at": iso(a.announced_at), "used_at": a.used_at and iso(a.used_at),
                "parcel": a.parcel_id, "created": self.created, "fresh": a.fresh}


def expect(household_text: str, code: str, uow: UnitOfWork, clock: Clock, *,
           actor: str, fresh: bool = False, scope: TokenScope | None = None) -> Announced:
    """Announce a parcel by its tracking number: when scanned, the gate names its household
    and checks it in as soon as the courier confirms it from the waybill.

    Announcing the same code for the same household again changes nothing (whoever asks:
    the first announcement and its ``announced_by`` stay); for another household it is
    refused (code_taken), never overwritten; so is an unknown household (with suggestions).
    ``scope``: a tool's token may announce only within it (out_of_scope, checked before the
    household list is read, so that a token learns nothing of households outside it). A code
    already checked in for this household is recorded as met by that parcel. ``fresh``: the
    parcel is fresh food (its door task goes first); announcing it again as fresh marks it so.
    """
    key = parse_carrier_code(code)
    target = HouseholdId.parse(household_text)
    hid, now = str(target), clock.now()
    if scope is not None and not scope.covers(target, key):
        raise OutOfScope(f"this token may announce only for {scope.describe()}")
    with uow:
        if uow.households.get(target) is None:
            raise _not_in_list(uow, target)
        existing = uow.expected.get(key)
        if existing is not None:
            if existing.household_id != hid:
                raise CodeTaken(f"{key} is announced for another household already: check the "
                                "tracking number")
            if fresh and not existing.fresh:
                uow.expected.mark_fresh(key)
                uow.events.add("announced_fresh", actor, now, household=hid, code=key)
                existing = replace(existing, fresh=True)
            return Announced(existing, created=False)
        parcel = uow.parcels.by_label(key)
        if parcel is not None and parcel.household_id != hid:
            raise CodeTaken(f"{key} was checked in for another household already: check the "
                            "tracking number")
        announcement = Announcement(key, hid, actor, now, parcel and now, parcel and parcel.id,
                                    fresh)
        uow.expected.add(announcement)
        uow.events.add("announced", actor, now, household=hid, parcel=parcel and parcel.id,
                       code=key)
    log.info("%s announced a parcel for %s", actor, mask_household(hid))
    return Announced(announcement, created=True)


def withdraw_announcement(code: str, uow: UnitOfWork, clock: Clock, *, actor: str) -> Announcement:
    """Withdraw an announcement no parcel has met yet (a mistaken or a doubtful one), so that
    its code can be announced again; the event keeps what it said and who said it."""
    key = parse_carrier_code(code)
    now = clock.now()
    with uow:
        existing = uow.expected.get(key)
        if existing is None:
            raise NotAnnounced(f"{key} is not announced")
        if existing.used_at is not None:
            raise NotAnnounced(f"{key} was met by parcel {existing.parcel_id} already; see "
                               "that parcel's timeline")
        uow.expected.remove(key)
        uow.events.add("announcement_withdrawn", actor, now, household=existing.household_id,
                       code=key, announced_by=existing.announced_by,
                       announced_at=iso(existing.announced_at))
    log.info("%s withdrew the announcement of a parcel for %s", actor,
             mask_household(existing.household_id))
    return existing


def _pickup_code(uow: UnitOfWork, household: str, now: datetime) -> PickupCode:
    """The household's active pickup code (one code collects all its waiting parcels).

    A new code is never one that anybody used within CODE_REUSE_AFTER: an old pass or a code
    someone remembers must not open another household's parcels.
    """
    active = uow.codes.active_for(household)
    if active:
        return active
    recently = now - CODE_REUSE_AFTER
    for _ in range(MAX_CODE_DRAWS):
        drawn = labels.new_pickup_code()  # through the module: tests may force the draw
        if uow.codes.used_since(drawn, recently):
            continue
        code = uow.codes.add(household, drawn, now)
        if code is not None:  # None: another household holds it right now
            return code
    raise RuntimeError(f"no free pickup code after {MAX_CODE_DRAWS} draws; "
                       "are most six-digit codes in use?")


def pick_up(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
            source: str = "keypad", actor: str = RESIDENT, room: str | None = None) -> Outcome:
    """Hand out every waiting parcel of the household whose pickup code was typed.

    A typed code can be guessed, so each try counts against its keypad (``source``), which
    waits a little after too many wrong ones and asks for the building-room (``room``) with
    the code where a code alone is too easy to hit (``kiosk.keypad``). A code typed while the
    keypad waits, or alone where the room is asked, is refused unchecked and counts for nothing.
    """
    now = clock.now()
    typed_room = _household_typed(room) if room and room.strip() else None
    throttle = f"pickup:{source}"
    with uow:
        keypad = keypad_now(uow, rules, source, now)
        if keypad.wait_s:
            raise PickupThrottled(f"too many wrong pickup codes; try again in {keypad.wait_s} s",
                                  retry_after_s=keypad.wait_s, tries_left=0)
        if keypad.room_required and typed_room is None:
            raise RoomRequired("type the building-room with the pickup code")
        found = uow.codes.find_active(code.strip())
        if found and typed_room is not None and found.household_id != typed_room:
            found = None  # another household's code: as wrong as no code at all
        parcels = uow.parcels.waiting_for(found.household_id) if found else []
        uow.attempts.add(throttle, bool(parcels), now)
        # Older tries count for nothing: forget them (the room's day is the longest memory).
        uow.attempts.prune(throttle, now - max(ROOM_MEMORY,
                                               timedelta(seconds=rules.pickup.window_s)))
        if found and parcels:
            outcome = _hand_out(uow, rules, found, parcels, now, "code", actor, source)
        else:
            keypad = keypad_now(uow, rules, source, now)
    if not found or not parcels:  # the failed attempt is committed above: it counts
        what = "pickup code and room do" if typed_room else "pickup code does"
        raise PickupRefused(f"this {what} not match any waiting parcel",
                            retry_after_s=keypad.wait_s or None, tries_left=keypad.tries_left)
    return _handed_out(outcome)


def _household_typed(room: str) -> str:
    """The household a building-room typed with a pickup code names; text that names none
    stays as typed (it then matches no code, and counts as a wrong try like any other)."""
    try:
        return str(HouseholdId.parse(room))
    except UnknownHousehold:
        return room.strip()


def keypad_now(uow: UnitOfWork, rules: Rules, source: str, now: datetime) -> Keypad:
    """The state of keypad ``source`` at ``now`` (inside the caller's unit of work): how long
    it waits, the wrong codes it still takes, whether it asks for the room."""
    failures = uow.attempts.failures(f"pickup:{source}", now - ROOM_MEMORY,
                                     lookback(rules.pickup))
    return keypad_state(failures, now, rules.pickup, uow.codes.active_count())


def pick_up_with_pass(pickup_pass: PickupPass, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                      actor: str = RESIDENT, source: str = "camera") -> Outcome:
    """Hand out what a scanned pickup pass opens: its own code, for its own household.

    A signed pass cannot be guessed, so nothing here counts toward a throttle or waits for one;
    a used or outdated pass is refused with its own message.
    """
    now = clock.now()
    with uow:
        found = _code_of_pass(pickup_pass, uow, rules)
        parcels = uow.parcels.waiting_for(found.household_id)
        if not parcels:
            raise PickupRefused("nothing is waiting for this pickup code now")
        outcome = _hand_out(uow, rules, found, parcels, now, "qr", actor, source)
    return _handed_out(outcome)


def _code_of_pass(pickup_pass: PickupPass, uow: UnitOfWork, rules: Rules) -> PickupCode:
    """The active code row a pass was made for, or the refusal that says why there is none."""
    if pickup_pass.code_id is None:
        return _code_of_legacy_pass(pickup_pass, uow, rules)
    found = uow.codes.get(pickup_pass.code_id)
    if (found is None or found.code != pickup_pass.code
            or not pass_is_for(rules.label_secret, pickup_pass, found.household_id)):
        raise ForgedLabel("this pickup QR does not match any pickup code here: forged, or "
                          "from another community")
    if found.used_at is not None:
        raise _closed(found, rules)
    return found


def _code_of_legacy_pass(pickup_pass: PickupPass, uow: UnitOfWork, rules: Rules) -> PickupCode:
    """A DP1 pass signed its code alone: accept it only while that code was drawn just once.

    If the code was drawn again (for anyone), the pass could be the older household's, so it is
    refused rather than guessed at; new passes (DP2) name their code row.
    """
    rows = uow.codes.with_code(pickup_pass.code, limit=2)
    if not rows:
        raise PickupRefused("this pickup QR does not match any pickup code here")
    if len(rows) > 1:
        raise PassOutdated("this older pickup QR can no longer be checked: show the QR from "
                           "your latest message, or ask the staff")
    if rows[0].used_at is not None:
        raise _closed(rows[0], rules)
    return rows[0]


def _closed(code: PickupCode, rules: Rules) -> PickupRefused:
    """The refusal for a pass whose code opens nothing any more: used, or withdrawn."""
    if code.revoked_at is not None and code.revoked_reason:  # a staff action (staff_actions)
        return PickupRefused("this pickup code was withdrawn by the staff: ask them at the "
                             "shelf")
    if code.revoked_at is not None:  # its household is under observation: staff carry them
        return PickupRefused("this pickup code was withdrawn: staff carry these parcels to the "
                             "door")
    used = local_time(code.used_at.isoformat(), rules.timezone, "%m-%d at %H:%M")
    return PassUsed(f"this pickup code was already used on {used}")


def _hand_out(uow: UnitOfWork, rules: Rules, code: PickupCode, parcels: list[ParcelRecord],
              now: datetime, via: str, actor: str, source: str) -> Outcome:
    """Close the code and every waiting parcel it opens; blink their slots."""
    uow.codes.use(code.id, now)
    slots = tuple(dict.fromkeys(p.slot_code for p in parcels))
    for parcel in parcels:
        uow.parcels.close(parcel.id, now)
        uow.events.add("collected", actor, now, parcel=parcel.id, household=code.household_id,
                       slot=parcel.slot_code, via=via, source=source)
    collected_at_shelf(uow, code.household_id, [p.id for p in parcels], now, actor)
    household = uow.households.get(HouseholdId.parse(code.household_id))
    if household is not None:  # 已取件: a parcel taken by someone else is noticed at once
        queue_collected(uow, rules.community_name, rules.channels, household, parcels, via, now)
    for slot in slots:
        light_slot(uow, rules, slot, "blink", now, "pickup")
    return Outcome("pickup", code.household_id, slots[0], parcels[0].id, slots,
                   tuple(p.id for p in parcels))


def _handed_out(outcome: Outcome) -> Outcome:
    """Log a pickup once it is committed."""
    log.info("handed out %d parcel(s) to %s", len(outcome.parcels),
             mask_household(outcome.household or ""))
    return outcome


def light_slot(uow: UnitOfWork, rules: Rules, slot: str, mode: LightMode, now: datetime,
               reason: str, *, seconds: int | None = None) -> None:
    """Light ``slot`` in ``mode`` for ``seconds`` (default ``[kiosk] light_seconds``); the
    kiosk follows the store."""
    if slot != rules.layout.overflow.code:  # the overflow place has no LED
        lasting = timedelta(seconds=rules.light_s if seconds is None else seconds)
        uow.signals.set(slot, mode, now + lasting, reason)


def release_from_observation(household: HouseholdId | str, uow: UnitOfWork, rules: Rules,
                             now: datetime, *, actor: str) -> tuple[int, ...]:
    """Call off the household's open door task: it was released from observation.

    For the function that changes a household's observation state, inside its unit of work
    (this joins it), after the household is marked released. The parcels stay on the shelf;
    the household gets the ordinary pickup notice, with a pickup code, for each of them.
    Returns the tasks cancelled (none: nothing to do).
    """
    hid = str(HouseholdId.parse(str(household)))
    with uow:
        task = uow.tasks.open_for(hid)
        found = uow.households.get(HouseholdId.parse(hid))
        if task is None or found is None:
            return ()
        waiting = [p for p in uow.tasks.parcels(task.id) if p.status is ParcelStatus.WAITING]
        cancel(uow, task, now, actor, RELEASED, [p.id for p in waiting])
        released = replace(found, under_observation=False)  # the ordinary notice, not "door"
        code = _pickup_code(uow, hid, now) if waiting else None
        for parcel in waiting:
            queue_waiting(uow, rules.community_name, rules.layout, rules.channels, released,
                          parcel, make_pass(rules.label_secret, hid, code.id, code.code),
                          code.code, now, keep_days=rules.pickup.return_after_days)
    log.info("door task %d for %s cancelled (released from observation); %d parcel(s) to "
             "collect", task.id, mask_household(hid), len(waiting))
    return (task.id,)
