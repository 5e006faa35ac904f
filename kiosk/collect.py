"""A team fetching its door-delivery parcels: their slots blink a pattern of their own.

``collect`` marks the slots holding the waiting parcels of a team's open door tasks "collect"
(a double blink, ``hardware.lights``) for a while, in the signals' staff layer: a courier's or
a resident's light on the same slot shows while it lasts, then the team's pattern again
(``kiosk.store.Signals``). Whoever asks writes only the wish into the store; the kiosk process
lights the LEDs from there, as for every other light. The request is an event with its actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from kiosk.config import Layout
from kiosk.domain import ParcelStatus
from kiosk.ports import Clock, UnitOfWork
from kiosk.timefmt import iso

log = logging.getLogger(__name__)

ALL_TEAMS = "all"  # the event's team when an administrator collects for every team


class CollectRules(Protocol):
    """What collecting needs of the configuration (``kiosk.services.Rules`` is one)."""

    layout: Layout


@dataclass(frozen=True)
class Collecting:
    """What a collect request lit: the slots, how many parcels, until when; the floor's too."""

    team: str | None
    slots: tuple[str, ...]
    parcels: int
    on_floor: int  # parcels in the overflow place: no LED there, the page says so
    until: datetime

    def as_json(self) -> dict[str, Any]:
        return {"team": self.team, "slots": list(self.slots), "parcels": self.parcels,
                "on_floor": self.on_floor, "until": iso(self.until)}


def collect(team: str | None, uow: UnitOfWork, rules: CollectRules, clock: Clock, *,
            seconds: int, actor: str, source: str = "web") -> Collecting:
    """Make the slots of ``team``'s open door tasks (every team's: None) blink "collect".

    Lights them for ``seconds`` from now (a second press starts the time again) and records a
    ``collect`` event naming ``actor``; with nothing of the team's on the shelf, nothing
    changes and nothing is recorded.
    """
    now = clock.now()
    until = now + timedelta(seconds=seconds)
    floor = rules.layout.overflow.code
    with uow:
        tasks = [t for t in uow.tasks.open() if team is None or t.team == team]
        waiting = [p for t in tasks for p in uow.tasks.parcels(t.id)
                   if p.status is ParcelStatus.WAITING]
        slots = tuple(sorted({p.slot_code for p in waiting if p.slot_code != floor}))
        for slot in slots:
            uow.signals.set(slot, "collect", until, f"collect:{team or ALL_TEAMS}")
        if slots:
            uow.events.add("collect", actor, now, team=team or ALL_TEAMS, slots=list(slots),
                           parcels=len(waiting), tasks=[t.id for t in tasks], until=iso(until),
                           source=source)
    on_floor = sum(1 for p in waiting if p.slot_code == floor)
    if slots:
        log.info("collect for %s by %s: %d slot(s) blink until %s", team or ALL_TEAMS, actor,
                 len(slots), iso(until))
    return Collecting(team, slots, len(waiting), on_floor, until)
