"""A slot's button: the right slot, confirmed, and a wrong one caught at once (issue 24).

After a check-in into a slot with a button, the slot stays lit until the courier presses its
button (``[kiosk] place_seconds`` at most); at a pickup the blinking slot's button says the
resident took the parcels. ``press`` decides what a press means, in one transaction, by these
rules in this order:

1. The slot holds parcels checked in less than ``place_s`` ago that no press confirmed yet:
   each is ``placed`` (the time is kept), the slot goes dark, any alarm stops.
2. The slot blinks for a pickup: the parcels were ``taken``; the slot goes dark, any alarm
   stops.
3. The slot is the one a running shelf audit is checking (``kiosk.audit``): "all here", the
   audit goes on to its next slot. Rules 1 and 2 come first: a check-in into the audited
   slot (or a pickup from it) takes its press, and the next press confirms the audit's.
4. Some other slot waits (the newest check-in not yet confirmed; else a slot blinking for a
   pickup): a ``wrong_slot``. Both slots blink the alarm until the one meant stops waiting,
   and the event names both, for the gate screen ("This is B-07. Put it in A-12"). The
   audited slot's press is never wrong: staff checking the shelf while a courier places a
   parcel elsewhere do not set off the courier's alarm.
5. Nothing waits for a button: the press means nothing and nothing is recorded.

A slot still unconfirmed ``place_s`` after its check-in is recorded ``not_placed`` once
(``record_unplaced``, from the kiosk loop): the gate screen says so and the staff's
exceptions list it as "not confirmed on the shelf".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.audit import all_here
from kiosk.domain import ParcelRecord
from kiosk.ports import Clock, UnitOfWork
from kiosk.services import Rules

ACTOR = "kiosk"
WRONG = "wrong_slot"  # the reason of the alarm on a slot pressed by mistake
LOOK_BACK = timedelta(days=1)  # how far back record_unplaced looks (a kiosk off for a while)


@dataclass(frozen=True)
class Press:
    """What a press meant: ``placed``, ``taken``, ``audit`` (all here), ``wrong`` or ``idle``;
    ``expected``: the slot meant (a wrong press); ``parcels``: those confirmed, or the one a
    wrong press was for."""

    action: str
    slot: str
    expected: str | None = None
    parcels: tuple[int, ...] = ()


def press(slot: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
          actor: str = ACTOR) -> Press:
    """Act on a press of ``slot``'s button (the rules in the module's docstring)."""
    now = clock.now()
    with uow:
        waiting = uow.parcels.unplaced(now - timedelta(seconds=rules.place_s))
        here = [p for p in waiting if p.slot_code == slot]
        if here:
            for parcel in here:
                uow.parcels.place(parcel.id, now)
                uow.events.add("placed", actor, now, parcel=parcel.id,
                               household=parcel.household_id, slot=slot)
            _done(uow, slot)
            return Press("placed", slot, parcels=tuple(p.id for p in here))
        pickups = uow.signals.lit_for("pickup", now)
        if slot in pickups:
            uow.events.add("taken", actor, now, slot=slot)
            _done(uow, slot)
            return Press("taken", slot)
        audit = uow.audits.open()
        if audit is not None and audit.status == "running" and audit.slot == slot:
            all_here(uow, clock, actor, "button", slot)
            return Press("audit", slot)
        meant = _meant(waiting, pickups, rules)
        if meant is None:
            return Press("idle", slot)
        expected, until, parcel, reason = meant
        uow.events.add(WRONG, actor, now, parcel=parcel, slot=slot, expected=expected,
                       during="pickup" if reason == "pickup" else "placing")
        uow.signals.set(slot, "alarm", until, WRONG)
        uow.signals.set(expected, "alarm", until, reason)  # its reason kept: still the one meant
        return Press("wrong", slot, expected, (parcel,) if parcel else ())


def _meant(waiting: list[ParcelRecord], pickups: dict[str, datetime],
           rules: Rules) -> tuple[str, datetime, int | None, str] | None:
    """The slot a press should have been: (slot, waiting until, parcel, its light's reason)."""
    if waiting:
        newest = waiting[-1]
        assert newest.checked_in_at is not None
        return (newest.slot_code, newest.checked_in_at + timedelta(seconds=rules.place_s),
                newest.id, "checkin")
    if pickups:
        code, until = max(pickups.items(), key=lambda item: item[1])
        return code, until, None, "pickup"
    return None


def _done(uow: UnitOfWork, slot: str) -> None:
    """Darken ``slot`` and stop every alarm: the right button was pressed."""
    uow.signals.clear(slot)
    uow.signals.clear(reason=WRONG)


def record_unplaced(uow: UnitOfWork, rules: Rules, clock: Clock, *,
                    actor: str = ACTOR) -> list[int]:
    """Record ``not_placed`` once for each parcel whose slot waited ``place_s`` in vain.

    Called every second: it only reads until there is something to record, so the kiosk
    takes the write lock only then.
    """
    now = clock.now()
    deadline = now - timedelta(seconds=rules.place_s)

    def late() -> list[ParcelRecord]:
        return [p for p in uow.parcels.unplaced(deadline - LOOK_BACK)
                if p.checked_in_at is not None and p.checked_in_at <= deadline
                and not uow.events.recorded("not_placed", p.id)]

    if not late():
        return []
    with uow:
        found = late()  # again, in the transaction: another writer may have recorded them
        for parcel in found:
            uow.events.add("not_placed", actor, now, parcel=parcel.id,
                           household=parcel.household_id, slot=parcel.slot_code,
                           waited_s=rules.place_s)
    return [p.id for p in found]
