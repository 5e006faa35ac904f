"""What the shelf does: check a parcel in, hand parcels out. Each use case is one transaction.

Use cases take what they act on, a unit of work (the store's port), the Rules they need and a
clock; they return an Outcome or raise the shelf's own error when they refuse. Entries call
them through ``act_on_payload`` / ``act_on_code``, the boundary that never raises. Side effects
on hardware happen only after the commit, in the caller, and only from what was committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kiosk.config import ChannelConfig, Config, Layout, PickupRules
from kiosk.domain import ParcelStatus, PickupCode, choose_slot, mask_household
from kiosk.errors import ParcelClosed, PickupRefused, PickupThrottled, UnknownHousehold
from kiosk.labels import ParcelLabel, PickupPass, make_pass, new_pickup_code, parse_payload
from kiosk.notices.queue import queue_checkin
from kiosk.outcome import Outcome, guarded
from kiosk.ports import Clock, LightMode, UnitOfWork

log = logging.getLogger(__name__)

COURIER = "courier@kiosk"
RESIDENT = "resident@kiosk"


@dataclass(frozen=True)
class Rules:
    """The parts of the configuration the use cases need, and nothing else."""

    community_name: str
    label_secret: bytes = field(repr=False)
    pickup: PickupRules
    light_s: int
    layout: Layout
    channels: tuple[ChannelConfig, ...]

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        return cls(config.community.name, config.label_secret, config.pickup,
                   config.kiosk.light_s, config.layout, config.channels)


def act_on_payload(data: bytes, uow: UnitOfWork, rules: Rules, clock: Clock, *,
                   source: str = "camera") -> Outcome:
    """Do what a scanned payload asks: check a parcel in or hand parcels out; never raise."""

    def use_case() -> Outcome:
        payload = parse_payload(data, rules.label_secret)
        if isinstance(payload, ParcelLabel):
            return check_in(payload, uow, rules, clock)
        return pick_up(payload.code, uow, rules, clock, source=source, scanned=payload)

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
                      code and make_pass(rules.label_secret, code.code), code and code.code, now)
        _light(uow, rules, slot.code, "on", now, "checkin")
    log.info("checked in parcel %s for %s into %s", parcel, mask_household(key), slot.code)
    return Outcome("checkin", key, slot.code, parcel, (slot.code,), (parcel,),
                   door_delivery=household.under_observation)


def _pickup_code(uow: UnitOfWork, household: str, now: datetime) -> PickupCode:
    """The household's active pickup code (one code collects all its waiting parcels)."""
    active = uow.codes.active_for(household)
    if active:
        return active
    while True:  # a clash with another household's active code is rare; draw again
        code = uow.codes.add(household, new_pickup_code(), now)
        if code is not None:
            return code


def pick_up(code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
            source: str = "keypad", scanned: PickupPass | None = None,
            actor: str = RESIDENT) -> Outcome:
    """Hand out every waiting parcel of the household whose pickup code this is."""
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
        if found and parcels:
            uow.codes.use(found.id, now)
            slots = tuple(dict.fromkeys(p.slot_code for p in parcels))
            for parcel in parcels:
                uow.parcels.close(parcel.id, now)
                uow.events.add("collected", actor, now, parcel=parcel.id,
                               household=found.household_id, slot=parcel.slot_code,
                               via="qr" if scanned else "code")
            for slot in slots:
                _light(uow, rules, slot, "blink", now, "pickup")
    if not found or not parcels:  # the failed attempt is committed above: it counts
        raise PickupRefused("this pickup code does not match any waiting parcel")
    log.info("handed out %d parcel(s) to %s", len(parcels), mask_household(found.household_id))
    return Outcome("pickup", found.household_id, slots[0], parcels[0].id, slots,
                   tuple(p.id for p in parcels))


def _light(uow: UnitOfWork, rules: Rules, slot: str, mode: LightMode, now: datetime,
           reason: str) -> None:
    if slot != rules.layout.overflow.code:  # the overflow place has no LED
        uow.signals.set(slot, mode, now + timedelta(seconds=rules.light_s), reason)
