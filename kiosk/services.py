"""What the shelf does: check a parcel in, hand parcels out. Each use case is one transaction.

Services take a connection (through which they open a unit of work), the configuration and a
clock, and return a ScanResult. Side effects on hardware happen only after the commit, in the
caller (the scanner), and only from what was committed.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from kiosk import notices
from kiosk.config import Config
from kiosk.domain import choose_slot, mask_household
from kiosk.errors import (
    ParcelClosed,
    PickupRefused,
    PickupThrottled,
    ShelfError,
    UnknownHousehold,
)
from kiosk.labels import ParcelLabel, PickupPass, make_pass, new_pickup_code, parse_payload
from kiosk.ports import Clock
from kiosk.store import UnitOfWork

log = logging.getLogger(__name__)

COURIER = "courier@kiosk"
RESIDENT = "resident@kiosk"


@dataclass(frozen=True)
class ScanResult:
    """What one scan did. ``as_json`` is the stable shape of ``shelf scan --json``."""

    action: str  # checkin, pickup, rejected, none
    household: str | None = None
    slot: str | None = None
    parcel: int | None = None
    slots: tuple[str, ...] = ()
    parcels: tuple[int, ...] = ()
    repeat: bool = False
    door_delivery: bool = False
    error: str | None = None
    message: str | None = None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["slots"], data["parcels"] = list(self.slots), list(self.parcels)
        return data


def act_on_payload(data: bytes, conn: sqlite3.Connection, config: Config, clock: Clock,
                   *, source: str = "camera") -> ScanResult:
    """Do what a scanned payload asks: check a parcel in or hand parcels out; never raise."""
    try:
        payload = parse_payload(data, config.label_secret)
        if isinstance(payload, ParcelLabel):
            return check_in(payload, conn, config, clock)
        return pick_up(payload.code, conn, config, clock, source=source, scanned=payload)
    except ShelfError as exc:
        return _rejected(exc, conn, clock, source)


def _rejected(exc: ShelfError, conn: sqlite3.Connection, clock: Clock, source: str) -> ScanResult:
    log.info("scan refused (%s): %s", exc.code, exc)
    with UnitOfWork(conn) as uow:
        uow.events.add("scan_refused", source, clock.now(), error=exc.code, message=str(exc))
    return ScanResult("rejected", error=exc.code, message=str(exc))


def check_in(label: ParcelLabel, conn: sqlite3.Connection, config: Config,
             clock: Clock, actor: str = COURIER) -> ScanResult:
    """Put the labelled parcel in a slot, record it, queue the household's notice, light it."""
    now = clock.now()
    key = str(label.household)
    with UnitOfWork(conn) as uow:
        known = uow.parcels.by_label(label.payload)
        if known is not None:
            if known.status != "waiting":
                raise ParcelClosed(f"parcel {known.id} for {label.household.masked()} was "
                                   "already collected")
            # The courier scanned it again: show the same slot, create nothing new.
            uow.events.add("rescanned", actor, now, parcel=known.id, household=key,
                           slot=known.slot_code)
            _light(uow, config, known.slot_code, "on", now, "rescan")
            return ScanResult("checkin", key, known.slot_code, known.id, (known.slot_code,),
                              (known.id,), repeat=True)
        household = uow.households.get(label.household)
        if household is None:
            raise UnknownHousehold(f"{label.household.masked()} is not in the household list")
        slot = choose_slot(label.household, config.slots, uow.parcels.load(), config.overflow)
        code_id = code = None
        if not household.under_observation:
            code_id, code = _pickup_code(uow, key, now)
        parcel = uow.parcels.add(label.payload, label.ref, key, slot.code, code_id, now)
        uow.events.add("checked_in", actor, now, parcel=parcel, household=key, slot=slot.code,
                       ref=label.ref, overflow=slot.overflow)
        notices.queue_checkin(uow, config, household, slot, parcel, label.ref,
                              code and make_pass(config.label_secret, code), code, now)
        _light(uow, config, slot.code, "on", now, "checkin")
    log.info("checked in parcel %s for %s into %s", parcel, mask_household(key), slot.code)
    return ScanResult("checkin", key, slot.code, parcel, (slot.code,), (parcel,),
                      door_delivery=household.under_observation)


def _pickup_code(uow: UnitOfWork, household: str, now: datetime) -> tuple[int, str]:
    """The household's active pickup code (one code collects all its waiting parcels)."""
    active = uow.codes.active_for(household)
    if active:
        return active
    while True:  # a clash with another household's active code is rare; draw again
        code = new_pickup_code()
        code_id = uow.codes.add(household, code, now)
        if code_id is not None:
            return code_id, code


def pick_up(code: str, conn: sqlite3.Connection, config: Config, clock: Clock, *,
            source: str = "keypad", scanned: PickupPass | None = None,
            actor: str = RESIDENT) -> ScanResult:
    """Hand out every waiting parcel of the household whose pickup code this is."""
    now = clock.now()
    window = timedelta(seconds=config.pickup_window_s)
    with UnitOfWork(conn) as uow:
        wait_s = uow.attempts.wait_needed(f"pickup:{source}", config.pickup_max_failures,
                                          window, now)
        if wait_s:
            raise PickupThrottled(f"too many wrong pickup codes; try again in {wait_s} s", wait_s)
        found = uow.codes.household_of(code.strip())
        parcels = uow.parcels.waiting_for(found[1]) if found else []
        uow.attempts.add(f"pickup:{source}", bool(parcels), now)
        if parcels:
            code_id, household = found
            uow.codes.use(code_id, now)
            slots = tuple(dict.fromkeys(p.slot_code for p in parcels))
            for parcel in parcels:
                uow.parcels.close(parcel.id, now)
                uow.events.add("collected", actor, now, parcel=parcel.id, household=household,
                               slot=parcel.slot_code, via="qr" if scanned else "code")
            for slot in slots:
                _light(uow, config, slot, "blink", now, "pickup")
    if not parcels:
        raise PickupRefused("this pickup code does not match any waiting parcel")
    log.info("handed out %d parcel(s) to %s", len(parcels), mask_household(household))
    return ScanResult("pickup", household, slots[0], parcels[0].id, slots,
                      tuple(p.id for p in parcels))


def _light(uow: UnitOfWork, config: Config, slot: str, mode: str, now: datetime,
           reason: str) -> None:
    if slot != config.overflow.code:  # the overflow place has no LED
        uow.signals.set(slot, mode, now + timedelta(seconds=config.light_s), reason)
