"""What staff do to a parcel by hand, each with a reason in words: one use case, one transaction.

- ``hand_out``: give a waiting parcel to someone without the pickup code, after checking their
  ID (the staff member ticks "ID checked"); the parcel is ``collected`` (event ``handed_out``).
- ``move``: carry a waiting parcel to another slot (or the overflow place); the new slot lights
  (the LEDs follow the ``signals`` table), the household is told where it is now.
- ``mark_returned``: give a waiting parcel back to the courier (it waited too long, or was
  refused); the parcel is ``returned`` (event ``returned``).
- ``undo_check_in``: a check-in that was a mistake (a waybill typed to 2403 for 2304, a parcel
  the courier took back). Events stay append-only, so this is a compensating event
  (``checkin_undone``): the parcel is ``withdrawn`` and leaves the shelf, its label is freed so
  the same label or waybill can check in again (rightly, this time), and the household that was
  told of it is told the message was a mistake.
- ``confirm_room``: a room typed at the gate that the phone digits did not settle, checked by
  staff against the waybill (event ``room_confirmed``).

Every action names its actor and keeps its reason in the event. A parcel leaving the shelf
(handed out, returned, withdrawn) leaves its household's door task too (``kiosk.tasks.left_shelf``:
a task with nothing left is cancelled); when nothing else of the household waits, its pickup code
is withdrawn (``pickup_code_revoked``, with the action as its reason: a pass shown later is told
to ask the staff), and its slot blinks so the staff member finds the parcel. The household hears
of each change (notice ``parcel_changed``), except of a move while it is under observation
(staff carry its parcels to the door; where they sit is not its concern).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from kiosk.config import names_in_languages
from kiosk.domain import HouseholdId, ParcelRecord, ParcelStatus, Slot, mask_household
from kiosk.errors import (
    IdNotChecked,
    ParcelNotWaiting,
    ReasonMissing,
    RoomSettled,
    SameSlot,
    SlotFull,
    UnknownParcel,
    UnknownSlot,
)
from kiosk.notices.queue import carrier_refs, queue_changed
from kiosk.ports import Clock, UnitOfWork
from kiosk.services import Rules, light_slot
from kiosk.tasks import COLLECTED, RETURNED, WITHDRAWN, left_shelf
from kiosk.timefmt import iso

log = logging.getLogger(__name__)

MAX_REASON = 500  # characters kept (events cap their texts at this too)
# What became of a parcel no longer on the shelf, for the refusal's words.
GONE = {ParcelStatus.COLLECTED: "collected", ParcelStatus.RETURNED: "returned to the courier",
        ParcelStatus.WITHDRAWN: "withdrawn (its check-in was undone)"}


@dataclass(frozen=True)
class Done:
    """What a staff action did: to which parcel, where it is (or was), the code withdrawn."""

    action: str  # handed_out, moved, returned, checkin_undone, room_confirmed
    parcel: int
    household: str
    slot: str
    code_withdrawn: bool = False


def hand_out(parcel_id: int, uow: UnitOfWork, rules: Rules, clock: Clock, *, actor: str,
             reason: str, id_checked: bool, source: str = "web") -> Done:
    """Hand a waiting parcel out without its pickup code, once the collector's ID is checked."""
    why = _reason(reason)
    if not id_checked:
        raise IdNotChecked("check the collector's ID, tick \"ID checked\", then hand it out")
    now = clock.now()
    with uow:
        parcel = _waiting(uow, parcel_id)
        uow.parcels.end(parcel.id, ParcelStatus.COLLECTED, now)
        uow.events.add("handed_out", actor, now, parcel=parcel.id, household=parcel.household_id,
                       slot=parcel.slot_code, reason=why, id_checked=True, source=source)
        done = _left(uow, rules, parcel, "handed_out", COLLECTED, now, actor)
    log.info("%s handed out parcel %d for %s without its code (ID checked)", actor, parcel_id,
             mask_household(done.household))
    return done


def move(parcel_id: int, slot_code: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
         actor: str, reason: str, source: str = "web") -> Done:
    """Put a waiting parcel in another slot (one with room) and light that slot."""
    why = _reason(reason)
    target = _slot(rules, slot_code)
    now = clock.now()
    with uow:
        parcel = _waiting(uow, parcel_id)
        if target.code == parcel.slot_code:
            raise SameSlot(f"parcel {parcel.id} is in {target.code} already")
        held = uow.parcels.load().get(target.code)
        if not target.overflow and held is not None and held.parcels >= target.capacity:
            raise SlotFull(f"{target.code} is full ({held.parcels} of {target.capacity}): "
                           "choose another slot")
        uow.parcels.move(parcel.id, target.code)
        uow.events.add("moved", actor, now, parcel=parcel.id, household=parcel.household_id,
                       slot=target.code, reason=why, source=source,
                       **{"from": parcel.slot_code, "to": target.code})
        light_slot(uow, rules, target.code, "on", now, "move")
        household = uow.households.get(HouseholdId.parse(parcel.household_id))
        if household is not None and not household.under_observation:
            queue_changed(uow, rules.channels, household, _payload(
                rules, parcel, "moved", now, household.name, slot=target.code,
                place=rules.layout.place(target)), parcel.id, now)
    log.info("%s moved parcel %d for %s from %s to %s", actor, parcel_id,
             mask_household(parcel.household_id), parcel.slot_code, target.code)
    return Done("moved", parcel.id, parcel.household_id, target.code)


def mark_returned(parcel_id: int, uow: UnitOfWork, rules: Rules, clock: Clock, *, actor: str,
                  reason: str, source: str = "web") -> Done:
    """Give a waiting parcel back to the courier: it leaves the shelf as ``returned``."""
    why = _reason(reason)
    now = clock.now()
    with uow:
        parcel = _waiting(uow, parcel_id)
        days = _days_waited(parcel, now)
        uow.parcels.end(parcel.id, ParcelStatus.RETURNED, now)
        uow.events.add("returned", actor, now, parcel=parcel.id, household=parcel.household_id,
                       slot=parcel.slot_code, reason=why, days=days, source=source)
        done = _left(uow, rules, parcel, "returned", RETURNED, now, actor, days=days)
    log.info("%s returned parcel %d for %s to the courier after %d day(s)", actor, parcel_id,
             mask_household(done.household), days)
    return done


def undo_check_in(parcel_id: int, uow: UnitOfWork, rules: Rules, clock: Clock, *, actor: str,
                  reason: str, source: str = "web") -> Done:
    """Undo a mistaken check-in with a compensating event: the parcel is ``withdrawn``.

    Its label is freed (``Parcels.release_label``), so scanning the same label or waybill
    checks it in again as new; the event keeps the label as it was scanned.
    """
    why = _reason(reason)
    now = clock.now()
    with uow:
        parcel = _waiting(uow, parcel_id)
        uow.parcels.end(parcel.id, ParcelStatus.WITHDRAWN, now)
        uow.parcels.release_label(parcel.id)
        uow.events.add("checkin_undone", actor, now, parcel=parcel.id,
                       household=parcel.household_id, slot=parcel.slot_code, reason=why,
                       label=parcel.label, source=source)
        done = _left(uow, rules, parcel, "withdrawn", WITHDRAWN, now, actor)
    log.info("%s undid the check-in of parcel %d for %s", actor, parcel_id,
             mask_household(done.household))
    return Done("checkin_undone", done.parcel, done.household, done.slot, done.code_withdrawn)


def confirm_room(parcel_id: int, uow: UnitOfWork, clock: Clock, *, actor: str, reason: str,
                 source: str = "web") -> Done:
    """Settle a room typed at the gate: staff checked the waybill, the room is right."""
    why = _reason(reason)
    now = clock.now()
    with uow:
        parcel = _waiting(uow, parcel_id)
        if parcel.room_confirmed:
            raise RoomSettled(f"parcel {parcel.id}'s room needs no confirming")
        uow.parcels.confirm_room(parcel.id)
        uow.events.add("room_confirmed", actor, now, parcel=parcel.id,
                       household=parcel.household_id, slot=parcel.slot_code, reason=why,
                       source=source)
    log.info("%s confirmed the room of parcel %d for %s", actor, parcel_id,
             mask_household(parcel.household_id))
    return Done("room_confirmed", parcel.id, parcel.household_id, parcel.slot_code)


def _reason(text: str | None) -> str:
    """The reason as kept: trimmed, at most ``MAX_REASON`` characters; refuse none."""
    why = " ".join((text or "").split())
    if not why:
        raise ReasonMissing("say why in a few words: the reason is kept with the parcel")
    return why[:MAX_REASON]


def _waiting(uow: UnitOfWork, parcel_id: int) -> ParcelRecord:
    parcel = uow.parcels.get(parcel_id)
    if parcel is None:
        raise UnknownParcel(f"there is no parcel {parcel_id}")
    if parcel.status is not ParcelStatus.WAITING:
        raise ParcelNotWaiting(f"parcel {parcel.id} is not on the shelf: it was "
                               f"{GONE[parcel.status]}")
    return parcel


def _slot(rules: Rules, code: str) -> Slot:
    wanted = code.strip().upper()
    for slot in (*rules.layout.slots, rules.layout.overflow):
        if slot.code.upper() == wanted:
            return slot
    raise UnknownSlot(f"there is no slot {code.strip()[:20]!r}: choose one of the shelf's")


def _days_waited(parcel: ParcelRecord, now: datetime) -> int:
    return 0 if parcel.checked_in_at is None else (now - parcel.checked_in_at).days


def _left(uow: UnitOfWork, rules: Rules, parcel: ParcelRecord, action: str, how: str,
          now: datetime, actor: str, **values: object) -> Done:
    """What every way off the shelf does after the parcel is closed: the door task, the code,
    the slot's light (the staff member finds the parcel), the household's notice."""
    hid = parcel.household_id
    left_shelf(uow, hid, [parcel.id], now, actor, how)
    withdrawn = _withdraw_idle_code(uow, parcel, action, now, actor)
    light_slot(uow, rules, parcel.slot_code, "blink", now, action)
    household = uow.households.get(HouseholdId.parse(hid))
    if household is not None:
        queue_changed(uow, rules.channels, household, _payload(
            rules, parcel, action, now, household.name, code_withdrawn=withdrawn, **values),
            parcel.id, now)
    return Done(action, parcel.id, hid, parcel.slot_code, withdrawn)


def _withdraw_idle_code(uow: UnitOfWork, parcel: ParcelRecord, action: str, now: datetime,
                        actor: str) -> bool:
    """Withdraw the household's pickup code when nothing of theirs waits any more."""
    hid = parcel.household_id
    if uow.parcels.waiting_for(hid):
        return False
    code = uow.codes.active_for(hid)
    if code is None:
        return False
    uow.codes.revoke(code.id, now, action)
    uow.events.add("pickup_code_revoked", actor, now, parcel=parcel.id, household=hid,
                   code_id=code.id, reason=action)
    return True


def _payload(rules: Rules, parcel: ParcelRecord, action: str, now: datetime, name: str,
             **values: object) -> dict[str, object]:
    # Each name in both languages: the notice is written in both (kiosk.notices.render).
    places = {"place": values["place"]} if values.get("place") else {}
    return {"community": rules.community_name, "household": parcel.household_id,
            "name": name, "parcel": parcel.id, "parcel_ref": parcel.ref,
            "carrier_refs": carrier_refs([parcel]), "action": action,
            "at": iso(now), **values,
            "names": names_in_languages(community=rules.community_name, **places)}
