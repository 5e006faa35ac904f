"""Door delivery: parcels of households under observation carried to the door by the right team.

A parcel checked in for a household under observation joins that household's open **door
task**, or opens one, in the check-in's own transaction (``attach_parcel``): one task per
household at a time, so several parcels arriving while it is open are carried (and confirmed)
together. A new task goes to the team serving the building at that moment
(``kiosk.routing.team_for``); a parcel joining a task whose team has gone off duty hands the
task over first.

``hand_over_due`` is the periodic part (called by the notice worker and by ``shelf tasks``;
idempotent): a task stays with its team while that team is on duty; once the team's hours end,
its open tasks pass to the team serving the building then, with an event, and that team is
told (``[[teams]] notify``, through the outbox). Fresh food: a task with a fresh parcel sorts
first and its team is told at once; still open ``[pickup] fresh_escalate_minutes`` later, the
team is told again (escalation 1), and as long again later every other team on duty (2).
Other new tasks are told on the worker's next pass, in one list per team (``tell_new_tasks``,
periodic too: the notice worker's alone).

``deliver`` confirms the door, by the door's signed sticker (``DD1:24-2304:MAC``) or a typed
room, and refuses any other door (``wrong_door``: 2304 is not 2403, with both households);
confirming closes the task, hands out its parcels (status ``collected``, event ``delivered``)
and queues "delivered to your door" to the household.

A task is cancelled when its household is released from observation (reason ``released``),
or when its parcels were handed out at the shelf after all (``collected_at_shelf``: a pickup
code sent before the household went under observation; reason "collected at the shelf"): a
task is open only while a parcel of it waits. Every change is an event naming its actor:
``task_opened``, ``task_joined``, ``task_fresh``, ``task_handed_over``, ``task_escalated``,
``door_refused``, ``delivered`` (per parcel), ``task_delivered``, ``task_cancelled``,
``task_parcels_collected``, ``pickup_code_revoked``, ``parcel_fresh``.

``mark_fresh`` marks a parcel fresh after its check-in (the key at the gate): its task goes
first and its team is told at once, as for a fresh label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from kiosk.config import ChannelConfig, Layout, PickupRules, Team, names_in_languages
from kiosk.domain import (
    DoorTask,
    Household,
    HouseholdId,
    ParcelRecord,
    ParcelStatus,
    TaskStatus,
    mask_household,
)
from kiosk.errors import (
    GarbageLabel,
    ParcelClosed,
    ShelfError,
    TaskCancelled,
    TaskClosed,
    UnknownHousehold,
    UnknownParcel,
    UnknownTask,
    WrongDoor,
)
from kiosk.labels import DOOR_PREFIX, make_pass, parse_door
from kiosk.notices.queue import carrier_refs, queue_delivered, queue_team, queue_waiting
from kiosk.outcome import DoorTaskRef, Outcome, guarded
from kiosk.ports import Clock, UnitOfWork
from kiosk.routing import local_time, on_duty, team_for
from kiosk.timefmt import iso

log = logging.getLogger(__name__)

SYSTEM = "system"
MAX_ESCALATIONS = 2  # 1: the team told again; 2: the other teams too
RELEASED = "released"  # why a task was cancelled: its household was released from observation
COLLECTED = "collected at the shelf"  # ... its parcels were handed out at the shelf
RETURNED = "returned to the courier"  # ... its parcels went back (kiosk.staff_actions)
WITHDRAWN = "check-in undone"  # ... its parcels were checked in by mistake


class TaskRules(Protocol):
    """What door tasks need of the configuration (``kiosk.services.Rules`` is one)."""

    community_name: str
    label_secret: bytes
    pickup: PickupRules
    channels: tuple[ChannelConfig, ...]
    timezone: tzinfo
    teams: tuple[Team, ...]
    layout: Layout


def attach_parcel(uow: UnitOfWork, rules: TaskRules, household: Household, parcel: int,
                  now: datetime, actor: str, *, fresh: bool = False, tell: bool = True,
                  **detail: Any) -> DoorTaskRef:
    """Put a checked-in parcel into its household's open door task, opening one if none is.

    Call it inside the check-in's unit of work: the parcel and its task commit together.
    ``tell=False``: the caller tells the team of fresh food itself (once for several parcels).
    ``detail`` goes into the events (``via="observation"``).
    """
    hid = str(household.id)
    task = uow.tasks.open_for(hid)
    if task is None:
        team = team_for(rules.teams, household.id.building, now, rules.timezone)
        task_id = uow.tasks.add(hid, team.id, now, fresh=fresh)
        uow.tasks.link(task_id, parcel)
        uow.events.add("task_opened", actor, now, parcel=parcel, household=hid, task=task_id,
                       team=team.id, fresh=fresh, **detail)
    else:
        task_id = task.id
        uow.tasks.link(task_id, parcel)
        # A team gone off duty passes the task on first: the parcel is the new team's to count.
        moved = _hand_over(uow, rules, task, now)
        uow.events.add("task_joined", actor, now, parcel=parcel, household=hid, task=task_id,
                       team=(moved or task).team, fresh=fresh, **detail)
        if fresh and not task.fresh:
            uow.tasks.mark_fresh(task_id, now)
            uow.events.add("task_fresh", actor, now, parcel=parcel, household=hid,
                           task=task_id)
    held = _get(uow, task_id)
    if fresh and tell:  # fresh food goes first: its team hears of it at once
        _tell(uow, rules, _team(rules, held.team), [held], "fresh", now)
    return DoorTaskRef(held.id, held.team, held.fresh)


def carry_waiting(uow: UnitOfWork, rules: TaskRules, household: Household, now: datetime,
                  actor: str) -> DoorTaskRef | None:
    """Carry to the door what already waits on the shelf for a household just put under
    observation; return its door task (None: nothing waits).

    For ``kiosk.observation.set_observation``, inside its unit of work, after the household is
    marked. Its active pickup code is withdrawn first: nobody else at the shelf may take a
    quarantined household's parcels with a code sent before. Every waiting parcel joins its
    open task or opens one for the team serving the building now; the household is told that
    staff will bring each (when it came, as at check-in); the team is told as of a new task
    (at once, and once, when there is fresh food).
    """
    hid = str(household.id)
    code = uow.codes.active_for(hid)
    if code is not None:
        uow.codes.revoke(code.id, now)
        uow.events.add("pickup_code_revoked", actor, now, household=hid, code_id=code.id,
                       reason="observation")
    task = uow.tasks.open_for(hid)
    held = {p.id for p in uow.tasks.parcels(task.id)} if task else set()
    parcels = [p for p in uow.parcels.waiting_for(hid) if p.id not in held]
    ref = None
    for parcel in parcels:
        ref = attach_parcel(uow, rules, household, parcel.id, now, actor, fresh=parcel.fresh,
                            tell=False, via="observation")
        queue_waiting(uow, rules.community_name, rules.layout, rules.channels, household,
                      parcel, None, None, now, keep_days=rules.pickup.return_after_days)
    if ref is not None and any(p.fresh for p in parcels):
        _tell(uow, rules, _team(rules, ref.team), [_get(uow, ref.id)], "fresh", now)
    return ref


def cancel(uow: UnitOfWork, task: DoorTask, now: datetime, actor: str, reason: str,
           parcels: Sequence[int]) -> None:
    """Call an open task off (``RELEASED``, ``COLLECTED``), with its event."""
    uow.tasks.close(task.id, TaskStatus.CANCELLED, now, actor, reason)
    uow.events.add("task_cancelled", actor, now, household=task.household_id, task=task.id,
                   team=task.team, reason=reason, parcels=list(parcels))


def collected_at_shelf(uow: UnitOfWork, household: str, parcels: Sequence[int],
                       now: datetime, actor: str) -> None:
    """Take parcels just handed out at the shelf off their household's open door task.

    For every use case that hands parcels out at the shelf, in its unit of work, after they
    are closed. A task left with nothing waiting is cancelled ("collected at the shelf"): no
    one is sent to the door for nothing, and it cannot be "delivered" empty later.
    """
    left_shelf(uow, household, parcels, now, actor, COLLECTED)


def left_shelf(uow: UnitOfWork, household: str, parcels: Sequence[int], now: datetime,
               actor: str, reason: str) -> None:
    """Take parcels that just left the shelf (``reason``: how) off their household's open task.

    Call it after they are closed, in the same unit of work; a task left with nothing waiting
    is cancelled with ``reason`` (``COLLECTED``, ``RETURNED``, ``WITHDRAWN``).
    """
    task = uow.tasks.open_for(household)
    if task is None:
        return
    linked, handed = uow.tasks.parcels(task.id), set(parcels)
    taken = [p.id for p in linked if p.id in handed]
    if not taken:
        return
    if any(p.status is ParcelStatus.WAITING for p in linked):
        uow.events.add("task_parcels_collected", actor, now, household=household, task=task.id,
                       team=task.team, parcels=taken, reason=reason)
        return
    cancel(uow, task, now, actor, reason, taken)


@dataclass(frozen=True)
class Rounds:
    """What ``hand_over_due`` did: tasks handed over (id, from, to) and escalated (id, level)."""

    handed_over: tuple[tuple[int, str, str], ...] = ()
    escalated: tuple[tuple[int, int], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"handed_over": [{"task": t, "from": a, "to": b} for t, a, b in self.handed_over],
                "escalated": [{"task": t, "level": level} for t, level in self.escalated]}


def hand_over_due(uow: UnitOfWork, rules: TaskRules, clock: Clock) -> Rounds:
    """Hand over the open tasks of teams gone off duty; escalate fresh food left waiting.

    Idempotent: run it as often as you like (the notice worker does, every pass); what is done
    is recorded on the task, so a second run at the same moment does nothing.
    """
    now = clock.now()
    handed: list[tuple[int, str, str]] = []
    escalated: list[tuple[int, int]] = []
    with uow:
        passed: dict[str, list[DoorTask]] = {}
        for task in uow.tasks.open():
            moved = _hand_over(uow, rules, task, now, tell=False)
            if moved is not None:
                handed.append((task.id, task.team, moved.team))
                passed.setdefault(moved.team, []).append(moved)
        for team_id, tasks in passed.items():
            _tell(uow, rules, _team(rules, team_id), tasks, "handover", now)
        for task in uow.tasks.open():
            escalated += [(task.id, level) for level in _escalate(uow, rules, task, now)]
    for task_id, before, after in handed:
        log.info("door task %d handed over from %s to %s", task_id, before, after)
    for task_id, level in escalated:
        log.info("door task %d escalated (level %d): fresh food still waiting", task_id, level)
    return Rounds(tuple(handed), tuple(escalated))


def tell_new_tasks(uow: UnitOfWork, rules: TaskRules, clock: Clock) -> dict[str, list[int]]:
    """Tell each team on duty, in one notice, the door tasks opened since it was last told.

    For the notice worker's pass, after ``hand_over_due``: the tasks of the morning's delivery
    go to the team's chat as one list (fresh food first), not one message per parcel. A task
    is listed once (``told_at``), and never when its team was told of it already (fresh food,
    a handover). A team off duty hears of its tasks when its hours start, or from the team it
    hands them over to. Returns the ids told, per team.
    """
    now = clock.now()
    at = local_time(now, rules.timezone)
    told: dict[str, list[DoorTask]] = {}
    with uow:
        for task in uow.tasks.untold():
            if on_duty(_team(rules, task.team), at):
                told.setdefault(task.team, []).append(task)
        for team_id, tasks in told.items():
            tasks.sort(key=lambda t: (not t.fresh, t.id))
            _tell(uow, rules, _team(rules, team_id), tasks, "new", now)
    for team_id, tasks in told.items():
        log.info("team %s told of %d new door task(s)", team_id, len(tasks))
    return {team_id: [t.id for t in tasks] for team_id, tasks in told.items()}


def _hand_over(uow: UnitOfWork, rules: TaskRules, task: DoorTask, now: datetime, *,
               tell: bool = True) -> DoorTask | None:
    """Pass ``task`` to the team serving its building now if its own team is off duty."""
    holder = next((t for t in rules.teams if t.id == task.team), None)
    if holder is not None and on_duty(holder, local_time(now, rules.timezone)):
        return None
    building = HouseholdId.parse(task.household_id).building
    team = team_for(rules.teams, building, now, rules.timezone)
    if team.id == task.team:
        return None
    uow.tasks.assign(task.id, team.id, now)
    uow.events.add("task_handed_over", SYSTEM, now, household=task.household_id, task=task.id,
                   team=team.id, **{"from": task.team, "to": team.id})
    moved = _get(uow, task.id)
    if tell:
        _tell(uow, rules, team, [moved], "handover", now)
    return moved


def _escalate(uow: UnitOfWork, rules: TaskRules, task: DoorTask, now: datetime) -> list[int]:
    """Raise a fresh task's escalation to what its waiting time calls for; the levels raised."""
    if task.fresh_since is None:
        return []
    after = timedelta(seconds=rules.pickup.fresh_escalate_s)
    due = min(MAX_ESCALATIONS, int((now - task.fresh_since) / after))
    raised = list(range(task.escalations + 1, due + 1))
    for level in raised:
        told = _escalation_teams(rules, task, level, now)
        uow.tasks.escalate(task.id, level)
        uow.events.add("task_escalated", SYSTEM, now, household=task.household_id,
                       task=task.id, team=task.team, level=level, told=[t.id for t in told])
        for team in told:
            _tell(uow, rules, team, [task], "escalation", now, level=level)
    return raised


def _escalation_teams(rules: TaskRules, task: DoorTask, level: int,
                      now: datetime) -> list[Team]:
    """Level 1: the team holding the task; 2: the other teams on duty (all others if none is)."""
    if level == 1:
        return [_team(rules, task.team)]
    others = [t for t in rules.teams if t.id != task.team]
    at = local_time(now, rules.timezone)
    return [t for t in others if on_duty(t, at)] or others


def _tell(uow: UnitOfWork, rules: TaskRules, team: Team, tasks: Sequence[DoorTask],
          reason: str, now: datetime, **extra: Any) -> None:
    """Queue a notice to ``team`` about ``tasks`` (fresh, handover or escalation)."""
    listed = []
    for task in tasks:
        waiting = [p for p in uow.tasks.parcels(task.id) if p.status is ParcelStatus.WAITING]
        listed.append({"id": task.id, "household": task.household_id, "parcels": len(waiting),
                       "slots": list(dict.fromkeys(p.slot_code for p in waiting)),
                       "fresh": task.fresh})
    queue_team(uow, team, {"community": rules.community_name, "team": team.id,
                           "team_name": team.name, "reason": reason, "tasks": listed,
                           "at": iso(now), "names": names_in_languages(
                               community=rules.community_name, team_name=team.name),
                           **extra}, now)
    # Told (fresh food, a handover): not listed again among the new tasks (tell_new_tasks).
    uow.tasks.mark_told([task.id for task in tasks], now)


def _team(rules: TaskRules, team_id: str) -> Team:
    """The configured team; one since removed from the file is told nothing (no contacts)."""
    found = next((t for t in rules.teams if t.id == team_id), None)
    return found or Team(team_id, team_id, frozenset(), time(0), time(0))


def _get(uow: UnitOfWork, task_id: int) -> DoorTask:
    task = uow.tasks.get(task_id)
    assert task is not None  # read in the transaction that wrote it
    return task


# --- at the door -------------------------------------------------------------------------------

def act_on_door(task_id: int, door: str, uow: UnitOfWork, rules: TaskRules, clock: Clock, *,
                actor: str, source: str = "cli") -> Outcome:
    """Deliver a task at the door confirmed by ``door``; never raise (see ``deliver``)."""
    return guarded(lambda: deliver(task_id, door, uow, rules, clock, actor=actor, source=source),
                   uow, clock, source, record=False)


def deliver(task_id: int, door: str, uow: UnitOfWork, rules: TaskRules, clock: Clock, *,
            actor: str, source: str = "cli") -> Outcome:
    """Close a door task at its household's door; refuse any other door, and a closed task.

    ``door`` is what the staff member's phone read from the door's sticker (``DD1:...``) or
    the room they typed (``24-2304``). Refusals: ``unknown_task``, ``task_closed`` (delivered
    already), ``task_cancelled``, ``wrong_door`` (recorded as ``door_refused``; the error
    carries ``expected`` and ``given``), ``forged`` / ``garbage`` / ``unknown_household`` for
    what is no door. ``actor`` is the staff member, for the events.
    """
    now = clock.now()
    refusal: ShelfError | None = None
    with uow:
        task = _open_task(uow, task_id, rules.timezone)
        given, via = read_door(door, rules.label_secret)
        if not any(p.status is ParcelStatus.WAITING for p in uow.tasks.parcels(task.id)):
            # Left open by a store from before collected_at_shelf: nothing to carry; call it off.
            cancel(uow, task, now, actor, COLLECTED, [])
            refusal = TaskCancelled(f"door task {task.id} has nothing left to carry: its parcels "
                                    "were collected at the shelf; it is cancelled now")
        elif str(given) != task.household_id:
            uow.events.add("door_refused", actor, now, household=task.household_id,
                           task=task.id, team=task.team, given=str(given), via=via,
                           source=source)
            refusal = WrongDoor(
                f"wrong door: this is {given.masked()}, task {task.id} is for "
                f"{mask_household(task.household_id)}; take the parcels to that door",
                expected=task.household_id, given=str(given))
        else:
            # Due for handover (no worker pass since its team went off duty): the delivery is
            # the team's on duty now, as the day's counts will say; nobody needs telling.
            task = _hand_over(uow, rules, task, now, tell=False) or task
            outcome = _delivered(uow, rules, task, now, actor, via, source)
    if refusal is not None:  # raised after the commit: the refusal (or the call-off) is on record
        raise refusal
    log.info("door task %d delivered to %s by %s (%d parcel(s))", task_id,
             mask_household(task.household_id), actor, len(outcome.parcels))
    return outcome


def read_door(door: str, secret: bytes) -> tuple[HouseholdId, str]:
    """The household a door names: its sticker's payload (``sticker``) or a typed room."""
    text = door.strip()
    if text.upper().startswith(DOOR_PREFIX + ":"):
        return parse_door(text, secret), "sticker"
    if ":" in text:
        raise GarbageLabel("not a door sticker: scan the QR sticker on the door, or type the "
                           "room")
    try:
        return HouseholdId.parse(text), "typed"  # 24-2304, 24/2304, 24栋2304室
    except UnknownHousehold:
        if "/" in text:  # a URL's path, another code's: no room is typed so
            raise GarbageLabel("not a door sticker: scan the QR sticker on the door, or type "
                               "the room") from None
        raise UnknownHousehold("type the room as building-room, e.g. 24-2304, 24栋2304室 or "
                               "24/2304", typed=text) from None


def _open_task(uow: UnitOfWork, task_id: int, timezone: tzinfo) -> DoorTask:
    task = uow.tasks.get(task_id)
    if task is None:
        raise UnknownTask(f"there is no door task {task_id}")
    when = task.closed_at and task.closed_at.astimezone(timezone).strftime("%m-%d %H:%M")
    if task.status is TaskStatus.DELIVERED:
        raise TaskClosed(f"door task {task_id} was delivered already ({when}, by "
                         f"{task.closed_by})")
    if task.status is TaskStatus.CANCELLED and task.closed_reason == COLLECTED:
        raise TaskCancelled(f"door task {task_id} was cancelled ({when}): its parcels were "
                            "collected at the shelf; nothing to carry")
    if task.status is TaskStatus.CANCELLED and task.closed_reason in (RETURNED, WITHDRAWN):
        raise TaskCancelled(f"door task {task_id} was cancelled ({when}): its parcels left the "
                            f"shelf ({task.closed_reason}); nothing to carry")
    if task.status is TaskStatus.CANCELLED:
        raise TaskCancelled(f"door task {task_id} was cancelled ({when}): the household was "
                            "released from observation and collects at the shelf")
    return task


def _delivered(uow: UnitOfWork, rules: TaskRules, task: DoorTask, now: datetime, actor: str,
               via: str, source: str) -> Outcome:
    """Hand out the task's waiting parcels at the door, close it, tell the household."""
    hid = task.household_id
    parcels = [p for p in uow.tasks.parcels(task.id) if p.status is ParcelStatus.WAITING]
    for parcel in parcels:
        uow.parcels.close(parcel.id, now)
        uow.events.add("delivered", actor, now, parcel=parcel.id, household=hid,
                       slot=parcel.slot_code, task=task.id, team=task.team, via=via,
                       source=source)
    uow.tasks.close(task.id, TaskStatus.DELIVERED, now, actor)
    uow.events.add("task_delivered", actor, now, household=hid, task=task.id, team=task.team,
                   parcels=[p.id for p in parcels], via=via, source=source)
    household = uow.households.get(HouseholdId.parse(hid))
    if parcels and household is not None:
        queue_delivered(uow, rules.channels, household, {
            "community": rules.community_name, "household": hid, "name": household.name,
            "team": task.team, "team_name": _team(rules, task.team).name,
            "parcel_refs": [p.ref for p in parcels], "carrier_refs": carrier_refs(parcels),
            "delivered_at": iso(now),
            "names": names_in_languages(community=rules.community_name,
                                        team_name=_team(rules, task.team).name)},
            parcels[0].id, now)
    slots = tuple(dict.fromkeys(p.slot_code for p in parcels))
    return Outcome("delivered", hid, slots[0] if slots else None,
                   parcels[0].id if parcels else None, slots, tuple(p.id for p in parcels),
                   door_delivery=True, door_task=DoorTaskRef(task.id, task.team, task.fresh))


# --- fresh food, marked after check-in ---------------------------------------------------------

def act_on_fresh(parcel_id: int, uow: UnitOfWork, rules: TaskRules, clock: Clock, *,
                 actor: str, source: str) -> Outcome:
    """Mark a waiting parcel fresh; never raise (see ``mark_fresh``).

    A refusal is not recorded as ``scan_refused``: the gate keeps showing the check-in.
    """
    return guarded(lambda: mark_fresh(parcel_id, uow, rules, clock, actor=actor, source=source),
                   uow, clock, source, record=False)


def mark_fresh(parcel_id: int, uow: UnitOfWork, rules: TaskRules, clock: Clock, *,
               actor: str, source: str) -> Outcome:
    """Mark a parcel on the shelf as fresh food (a key at the gate: the label did not say so).

    Its door task, if it has one, goes to the top and its team is told at once, as for a fresh
    label (``attach_parcel``); a task whose team has gone off duty passes on first. A parcel of
    a household that collects at the shelf is sent its pickup notice again, saying first that
    the parcel is fresh food (never held back: quiet hours are for reminders). Events
    ``parcel_fresh`` and, for a task not fresh before, ``task_fresh``, naming
    ``actor``. Idempotent: a parcel fresh already is answered ``repeat`` and nothing changes.
    Refusals: ``unknown_parcel``, ``already_collected`` (not waiting any more).
    """
    now = clock.now()
    with uow:
        parcel = uow.parcels.get(parcel_id)
        if parcel is None:
            raise UnknownParcel(f"there is no parcel {parcel_id}")
        hid = parcel.household_id
        if parcel.status is not ParcelStatus.WAITING:
            raise ParcelClosed(f"parcel {parcel_id} for {mask_household(hid)} is not on the "
                               "shelf any more: it was collected or delivered")
        task = uow.tasks.open_for(hid)
        if task is not None and parcel_id not in {p.id for p in uow.tasks.parcels(task.id)}:
            task = None  # a household's task holds its waiting parcels; not this one (yet)
        if not parcel.fresh:
            uow.parcels.mark_fresh(parcel_id)
            uow.events.add("parcel_fresh", actor, now, parcel=parcel_id, household=hid,
                           slot=parcel.slot_code, source=source,
                           task=task.id if task else None)
            if task is not None:
                task = _freshen(uow, rules, task, parcel_id, now, actor)
            else:
                _tell_fresh(uow, rules, replace(parcel, fresh=True), now)
    if not parcel.fresh:
        log.info("parcel %d for %s marked fresh by %s%s", parcel_id, mask_household(hid), actor,
                 f" (door task {task.id})" if task else "")
    return Outcome("fresh", hid, parcel.slot_code, parcel_id, (parcel.slot_code,), (parcel_id,),
                   repeat=parcel.fresh, door_delivery=task is not None,
                   door_task=DoorTaskRef(task.id, task.team, task.fresh) if task else None)


def _tell_fresh(uow: UnitOfWork, rules: TaskRules, parcel: ParcelRecord, now: datetime) -> None:
    """Tell a household that collects at the shelf that its parcel is fresh food, at once: its
    pickup notice again, saying so first (the code stays the same)."""
    household = uow.households.get(HouseholdId.parse(parcel.household_id))
    code = uow.codes.active_for(parcel.household_id)
    if household is None or household.under_observation or code is None:
        return
    queue_waiting(uow, rules.community_name, rules.layout, rules.channels, household, parcel,
                  make_pass(rules.label_secret, parcel.household_id, code.id, code.code),
                  code.code, now, keep_days=rules.pickup.return_after_days)


def _freshen(uow: UnitOfWork, rules: TaskRules, task: DoorTask, parcel_id: int,
             now: datetime, actor: str) -> DoorTask:
    """Put ``task`` first for a parcel of it just marked fresh, and tell its team at once."""
    # A team gone off duty passes the task on first: it is the new team that must hurry.
    task = _hand_over(uow, rules, task, now, tell=False) or task
    if not task.fresh:
        uow.tasks.mark_fresh(task.id, now)
        uow.events.add("task_fresh", actor, now, parcel=parcel_id, household=task.household_id,
                       task=task.id)
    held = _get(uow, task.id)
    _tell(uow, rules, _team(rules, held.team), [held], "fresh", now)
    return held
