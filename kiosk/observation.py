"""Whether a household is under home observation: changed here, and nowhere else.

A household under observation may not come to the shelf: its parcels are carried to its door.
Every change of that state, from a day's observation list (``kiosk.observation_register``),
the household import (``kiosk.households``) or anything else, goes through
``set_observation``, so that what must follow a change happens in the same transaction,
whoever made the change: put under observation, the parcels already waiting go into a door
task and the household's pickup code is withdrawn; released, its door task is cancelled and
it gets the ordinary pickup notice with a code.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from kiosk.domain import HouseholdId, confusable_with, mask_household
from kiosk.errors import UnknownHousehold
from kiosk.ports import Clock, UnitOfWork
from kiosk.services import Rules, release_from_observation
from kiosk.tasks import carry_waiting

log = logging.getLogger(__name__)

ADDED = "observation_added"  # event kinds: one per household whose state changed
RELEASED = "observation_released"


def set_observation(household: HouseholdId | str, under: bool, uow: UnitOfWork, rules: Rules,
                    clock: Clock, *, actor: str, list_id: int | None = None) -> bool:
    """Put a household under observation or release it; return whether its state changed.

    Joins the caller's transaction (a list is applied whole or not at all). A household already
    in the asked state is left alone: no event, nothing else happens. A change is recorded as
    an ``observation_added`` or ``observation_released`` event with its actor and the register's
    list (``list_id``, None when no list asked for it); what follows is recorded with the same
    actor (``kiosk.tasks.carry_waiting``, ``kiosk.services.release_from_observation``). A
    household not in the list is refused (UnknownHousehold, suggesting the rooms easily
    confused with it).
    """
    target = household if isinstance(household, HouseholdId) else HouseholdId.parse(household)
    now = clock.now()
    with uow:
        known = uow.households.get(target)
        if known is None:
            near = confusable_with(target, [h.id for h in uow.households.in_building(
                target.building)])
            raise UnknownHousehold(f"{target.masked()} is not in the household list",
                                   given=str(target), suggestions=tuple(map(str, near)))
        if known.under_observation == under:
            return False
        marked = replace(known, under_observation=under)
        uow.households.upsert(marked, now)
        uow.events.add(ADDED if under else RELEASED, actor, now, household=str(target),
                       list=list_id)
        if under:  # what waits on the shelf is carried to the door; its code opens nothing
            carry_waiting(uow, rules, marked, now, actor)
        else:  # its door task is called off; it collects with a pickup code
            release_from_observation(target, uow, rules, now, actor=actor)
    log.info("%s %s observation", mask_household(str(target)),
             "put under" if under else "released from")
    return True
