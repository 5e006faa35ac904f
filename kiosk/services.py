"""What the shelf does: check a parcel in, hand parcels out. Each use case is one transaction.

Use cases take what they act on, a unit of work (the store's port), the Rules they need and a
clock; they return an Outcome or raise the shelf's own error when they refuse. Entries call
them through ``act_on_payload`` / ``act_on_code``, the boundary that never raises. Side effects
on hardware happen only after the commit, in the caller, and only from what was committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from kiosk import labels
from kiosk.config import ChannelConfig, Config, Layout, PickupRules
from kiosk.domain import ParcelRecord, ParcelStatus, PickupCode, choose_slot, mask_household
from kiosk.errors import (
    ForgedLabel,
    ParcelClosed,
    PassOutdated,
    PassUsed,
    PickupRefused,
    PickupThrottled,
    UnknownHousehold,
)
from kiosk.labels import ParcelLabel, PickupPass, make_pass, parse_payload, pass_is_for
from kiosk.notices.queue import queue_checkin
from kiosk.outcome import Outcome, guarded
from kiosk.ports import Clock, LightMode, UnitOfWork
from kiosk.timefmt import local_time

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

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        return cls(config.community.name, config.label_secret, config.pickup,
                   config.kiosk.light_s, config.layout, config.channels,
                   config.community.timezone)


def act_on_payload(data: bytes, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                   source: str = "camera") -> Outcome:
    """Do what a scanned payload asks: check a parcel in or hand parcels out; never raise."""

    def use_case() -> Outcome:
        payload = parse_payload(data, rules.label_secret)
        if isinstance(payload, ParcelLabel):
            return check_in(payload, uow, rules, clock)
        return pick_up_with_pass(payload, uow, rules, clock)

    return guarded(use_case, uow, clock, source)


def act_on_code(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                source: str = "keypad") -> Outcome:
    """Hand out what a typed pickup code opens; never raise."""
    return guarded(lambda: pick_up(code, uow, rules, clock, source=source), uow, clock, source)


def check_in(label: ParcelLabel, uow: UnitOfWork, rules: Rules, clock: Clock,
             actor: str = COURIER) -> Outcome:
    """Put the labelled parcel in a slot, record it, queue the household's notice, light it."""
    now = clock.now()
    key = str(label.household)
    with uow:
        known = uow.parcels.by_label(label.payload)
        if known is not None:
            if known.status is not ParcelStatus.WAITING:
                raise ParcelClosed(f"parcel {known.id} for {label.household.masked()} was "
                                   "already collected")
            # The courier scanned it again: show the same slot, create nothing new.
            uow.events.add("rescanned", actor, now, parcel=known.id, household=key,
                           slot=known.slot_code)
            _light(uow, rules, known.slot_code, "on", now, "rescan")
            return Outcome("checkin", key, known.slot_code, known.id, (known.slot_code,),
                           (known.id,), repeat=True)
        household = uow.households.get(label.household)
        if household is None:
            raise UnknownHousehold(f"{label.household.masked()} is not in the household list")
        slot = choose_slot(label.household, rules.layout.slots, uow.parcels.load(),
                           rules.layout.overflow)
        code = None if household.under_observation else _pickup_code(uow, key, now)
        parcel = uow.parcels.add(label.payload, label.ref, key, slot.code,
                                 code and code.id, now)
        uow.events.add("checked_in", actor, now, parcel=parcel, household=key, slot=slot.code,
                       ref=label.ref, overflow=slot.overflow)
        queue_checkin(uow, rules.community_name, rules.layout.place(slot), rules.channels,
                      household, slot, parcel, label.ref,
                      code and make_pass(rules.label_secret, key, code.id, code.code),
                      code and code.code, now)
        _light(uow, rules, slot.code, "on", now, "checkin")
    log.info("checked in parcel %s for %s into %s", parcel, mask_household(key), slot.code)
    return Outcome("checkin", key, slot.code, parcel, (slot.code,), (parcel,),
                   door_delivery=household.under_observation)


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
            source: str = "keypad", actor: str = RESIDENT) -> Outcome:
    """Hand out every waiting parcel of the household whose pickup code was typed.

    A typed code can be guessed, so each try counts against its keypad (``source``) and a
    keypad with too many wrong ones within the window waits.
    """
    now = clock.now()
    window = timedelta(seconds=rules.pickup.window_s)
    throttle = f"pickup:{source}"
    with uow:
        wait_s = uow.attempts.wait_needed(throttle, rules.pickup.max_failures, window, now)
        if wait_s:
            raise PickupThrottled(f"too many wrong pickup codes; try again in {wait_s} s")
        found = uow.codes.find_active(code.strip())
        parcels = uow.parcels.waiting_for(found.household_id) if found else []
        uow.attempts.add(throttle, bool(parcels), now)
        uow.attempts.prune(throttle, now - window)  # older tries count for nothing: forget them
        if found and parcels:
            outcome = _hand_out(uow, rules, found, parcels, now, "code", actor)
    if not found or not parcels:  # the failed attempt is committed above: it counts
        raise PickupRefused("this pickup code does not match any waiting parcel")
    return _handed_out(outcome)


def pick_up_with_pass(pickup_pass: PickupPass, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                      actor: str = RESIDENT) -> Outcome:
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
        outcome = _hand_out(uow, rules, found, parcels, now, "qr", actor)
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
        raise PassUsed(_used_message(found, rules))
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
        raise PassUsed(_used_message(rows[0], rules))
    return rows[0]


def _used_message(code: PickupCode, rules: Rules) -> str:
    used = local_time(code.used_at.isoformat(), rules.timezone, "%m-%d at %H:%M")
    return f"this pickup code was already used on {used}"


def _hand_out(uow: UnitOfWork, rules: Rules, code: PickupCode, parcels: list[ParcelRecord],
              now: datetime, via: str, actor: str) -> Outcome:
    """Close the code and every waiting parcel it opens; blink their slots."""
    uow.codes.use(code.id, now)
    slots = tuple(dict.fromkeys(p.slot_code for p in parcels))
    for parcel in parcels:
        uow.parcels.close(parcel.id, now)
        uow.events.add("collected", actor, now, parcel=parcel.id, household=code.household_id,
                       slot=parcel.slot_code, via=via)
    for slot in slots:
        _light(uow, rules, slot, "blink", now, "pickup")
    return Outcome("pickup", code.household_id, slots[0], parcels[0].id, slots,
                   tuple(p.id for p in parcels))


def _handed_out(outcome: Outcome) -> Outcome:
    """Log a pickup once it is committed."""
    log.info("handed out %d parcel(s) to %s", len(outcome.parcels),
             mask_household(outcome.household or ""))
    return outcome


def _light(uow: UnitOfWork, rules: Rules, slot: str, mode: LightMode, now: datetime,
           reason: str) -> None:
    if slot != rules.layout.overflow.code:  # the overflow place has no LED
        uow.signals.set(slot, mode, now + timedelta(seconds=rules.light_s), reason)
