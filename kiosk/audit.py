"""The shelf audit guided by light (issue 24): the ONE way an audit moves, whoever asks.

Staff start an audit (the phone's ``/audit``, ``shelf audit start``); it visits, one at a time
in shelf order, each slot that holds parcels by the store. That slot blinks ``audit`` (the
kiosk reads it from the store: ``Signals.active``) while the phone lists what it should hold.
Staff note what differs, then confirm the slot ("all here": its button, a tap, ``shelf audit
next``), and the audit goes on to the next slot; after the last it ends by itself.

- ``missing``: a parcel on the slot's list is not there.
- ``extra``: a parcel is there that is not on its list: by its waybill (typed or scanned), or
  "an extra parcel" with no waybill. A waybill of a parcel the store puts in another slot is
  ``moved`` (noted once per parcel: missing in its own slot first, then found, is moved).

Every discrepancy is an event naming the audit (a parcel's timeline says it) and a row of
``audit_problems``, which the staff's exceptions list shows with the audit's id until the
parcel is settled. The lists are read live: a parcel checked in during the audit is on its
slot's list, one collected is not; a slot filled during the audit is visited too.

A press of the audited slot's button is "all here" (``kiosk.placing``), unless that slot waits
for a press of its own first (a check-in into it, a pickup from it): that press wins, and the
next one confirms the audit's slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.domain import AuditRecord, ParcelStatus, Problem
from kiosk.errors import ShelfError
from kiosk.ports import Clock, UnitOfWork

HOWS = ("button", "phone", "shell")  # how a slot was confirmed
MAX_WAYBILL = 60


class AuditRefused(ShelfError):
    """An audit action that does not fit the audit's state."""

    code = "audit"
    recorded = False


class AuditOpen(AuditRefused):
    """An audit is already open: resume or end it first."""

    code = "audit_open"


class NoAudit(AuditRefused):
    """No audit is open."""

    code = "no_audit"


class AuditPaused(AuditRefused):
    """The audit is paused: resume it first."""

    code = "audit_paused"


class ShelfEmpty(AuditRefused):
    """No slot holds parcels: there is nothing to audit."""

    code = "shelf_empty"


class NotListed(AuditRefused):
    """The parcel is not on the list of the slot being checked."""

    code = "not_listed"


class OnList(AuditRefused):
    """That waybill is on the list of the slot being checked: it is not extra."""

    code = "on_list"


class WrongSlot(AuditRefused):
    """The slot named is not the one being checked (the page was out of date)."""

    code = "not_current"


@dataclass(frozen=True)
class Step:
    """Where an audit is after an action: ``slot`` being checked (None: it ended)."""

    audit: int
    status: str
    slot: str | None


def start(uow: UnitOfWork, clock: Clock, by: str) -> Step:
    """Open an audit at the first slot holding parcels."""
    now = clock.now()
    with uow:
        if uow.audits.open() is not None:
            raise AuditOpen("an audit is already open: resume or end it first")
        audit = uow.audits.start(by, now)
        first = uow.audits.to_check(audit, None)
        if not first:
            raise ShelfEmpty("no slot holds parcels: there is nothing to audit")
        uow.audits.go_to(audit, first[0])
        uow.events.add("audit_started", by, now, slot=first[0], audit=audit,
                       slots=len(first))
    return Step(audit, "running", first[0])


def pause(uow: UnitOfWork, clock: Clock, by: str) -> Step:
    """Pause the open audit: its slot goes dark until it is resumed."""
    with uow:
        audit = _open(uow)
        if audit.status == "running":
            uow.audits.set_status(audit.id, "paused")
            uow.events.add("audit_paused", by, clock.now(), slot=audit.slot, audit=audit.id)
    return Step(audit.id, "paused", audit.slot)


def resume(uow: UnitOfWork, clock: Clock, by: str) -> Step:
    """Resume the paused audit where it was (its slot's list is read again, as it is now)."""
    now = clock.now()
    with uow:
        audit = _open(uow)
        if audit.status == "paused":
            uow.audits.set_status(audit.id, "running")
            uow.events.add("audit_resumed", by, now, slot=audit.slot, audit=audit.id)
        if audit.slot is None or not uow.audits.listed(audit.slot):
            return _advance(uow, audit.id, audit.slot, by, now)  # emptied meanwhile
    return Step(audit.id, "running", audit.slot)


def all_here(uow: UnitOfWork, clock: Clock, by: str, how: str,
             slot: str | None = None) -> Step:
    """Confirm the slot being checked (``slot``, when given, must be it); go to the next."""
    if how not in HOWS:
        raise ValueError(f"how={how!r}: one of {', '.join(HOWS)}")
    now = clock.now()
    with uow:
        audit = _running(uow, slot)
        assert audit.slot is not None
        listed = [p for p in uow.audits.listed(audit.slot)
                  if p.id not in _found_elsewhere(uow.audits.problems(audit.id), audit.slot)]
        uow.audits.check(audit.id, audit.slot, by, how, len(listed), now)
        noted = [p for p in uow.audits.problems(audit.id) if p.slot == audit.slot]
        uow.events.add("audit_slot_checked", by, now, slot=audit.slot, audit=audit.id,
                       listed=len(listed), problems=len(noted), how=how)
        return _advance(uow, audit.id, audit.slot, by, now)


def missing(uow: UnitOfWork, clock: Clock, by: str, parcel: int,
            slot: str | None = None) -> Problem:
    """Note that ``parcel``, on the list of the slot being checked, is not there."""
    now = clock.now()
    with uow:
        audit = _running(uow, slot)
        assert audit.slot is not None
        found = next((p for p in uow.audits.listed(audit.slot) if p.id == parcel), None)
        if found is None:
            raise NotListed(f"parcel {parcel} is not on the list of {audit.slot}")
        before = _problem_of(uow, audit.id, parcel)
        if before is not None and before.kind == "moved":
            return before  # already found in another slot: that says more
        uow.audits.note(audit.id, "missing", audit.slot, now, by, parcel=parcel)
        uow.events.add("audit_missing", by, now, parcel=parcel, household=found.household_id,
                       slot=audit.slot, audit=audit.id)
        return _noted(uow, audit.id, parcel)


def extra(uow: UnitOfWork, clock: Clock, by: str, waybill: str = "",
          slot: str | None = None) -> Problem:
    """Note a parcel in the slot being checked that is not on its list; by its waybill
    (typed or scanned: a parcel the store puts elsewhere is ``moved``), or none."""
    text = " ".join(waybill.split())[:MAX_WAYBILL].upper()
    now = clock.now()
    with uow:
        audit = _running(uow, slot)
        here = audit.slot
        assert here is not None
        parcel = uow.audits.find_parcel(text) if text else None
        if parcel is not None and parcel.status == ParcelStatus.WAITING:
            if parcel.slot_code == here:
                raise OnList(f"{text} is on the list of {here}")
            uow.audits.note(audit.id, "moved", here, now, by, parcel=parcel.id,
                            home_slot=parcel.slot_code, waybill=text)
            uow.events.add("audit_moved", by, now, parcel=parcel.id,
                           household=parcel.household_id, slot=here, audit=audit.id,
                           to=parcel.slot_code)
            return _noted(uow, audit.id, parcel.id)
        known = parcel.id if parcel is not None else None  # collected, returned: yet here
        uow.audits.note(audit.id, "extra", here, now, by, parcel=known, waybill=text or None)
        uow.events.add("audit_extra", by, now, parcel=known, slot=here, audit=audit.id,
                       waybill=text)
        return uow.audits.problems(audit.id)[-1] if known is None else _noted(uow, audit.id,
                                                                               known)


def end(uow: UnitOfWork, clock: Clock, by: str) -> Step:
    """End the open audit now, whatever is left unchecked (the report counts it)."""
    now = clock.now()
    with uow:
        audit = _open(uow)
        left = len(uow.audits.to_check(audit.id, None))
        uow.audits.end(audit.id, by, now, left)
        uow.events.add("audit_ended", by, now, audit=audit.id, slots_left=left)
    return Step(audit.id, "done", None)


def _advance(uow: UnitOfWork, audit: int, after: str | None, by: str,
             now: datetime) -> Step:
    """Go to the next slot holding parcels not yet confirmed; end the audit after the last."""
    left = uow.audits.to_check(audit, after)
    if not left:
        uow.audits.end(audit, by, now, 0)
        uow.events.add("audit_ended", by, now, audit=audit, slots_left=0)
        return Step(audit, "done", None)
    uow.audits.go_to(audit, left[0])
    return Step(audit, "running", left[0])


def _open(uow: UnitOfWork) -> AuditRecord:
    audit = uow.audits.open()
    if audit is None:
        raise NoAudit("no audit is open: start one")
    return audit


def _running(uow: UnitOfWork, slot: str | None) -> AuditRecord:
    """The open audit, running; at ``slot`` when one is named."""
    audit = _open(uow)
    if audit.status != "running":
        raise AuditPaused("the audit is paused: resume it first")
    if slot is not None and slot != audit.slot:
        raise WrongSlot(f"{slot} is not the slot being checked ({audit.slot})")
    return audit


def _problem_of(uow: UnitOfWork, audit: int, parcel: int) -> Problem | None:
    return next((p for p in uow.audits.problems(audit) if p.parcel == parcel), None)


def _noted(uow: UnitOfWork, audit: int, parcel: int) -> Problem:
    """The problem just noted for ``parcel``."""
    problem = _problem_of(uow, audit, parcel)
    assert problem is not None
    return problem


def _found_elsewhere(problems: list[Problem], slot: str) -> set[int]:
    """Parcels of ``slot`` this audit already found in another slot."""
    return {p.parcel for p in problems
            if p.kind == "moved" and p.home_slot == slot and p.parcel is not None}
