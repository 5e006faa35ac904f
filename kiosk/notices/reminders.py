"""Reminders of parcels still on the shelf, and the warning before they go back to the courier.

Run on every pass of the notice worker (``shelf notices``, like ``kiosk.tasks.hand_over_due``):

- A round is a number of days a parcel has waited (``[notices] remind_after_days``, e.g. 1 and
  3), or ``return``: ``warn_before_return_days`` before the day it goes back to the courier
  (``[pickup] return_after_days`` after check-in).
- A household gets one notice per pass at most, listing all its waiting parcels: the return
  warning when one of them is due for it, else the reminder of the highest round due. Every
  (parcel, round) said is kept in the store (``reminders``) in the same transaction as the
  notice queued, so a restart or a crash never says a round twice, and a worker that was down
  for days says the latest round once, not each missed one.
- Quiet hours (``quiet_hours``, the community's wall-clock, 22:00-07:00 by default): nothing
  is queued in them; what fell due goes on the first pass after they end. A reminder queued
  before them whose send fails is retried after them, not in them (``held_until``, which the
  outbox worker asks). Pickup notices and fresh food are not reminders: they always go at once.
- Households under observation are not reminded: staff carry their parcels to the door.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from kiosk.config import ChannelConfig, Layout, NoticeSettings, PickupRules, names_in_languages
from kiosk.domain import HouseholdId, ParcelRecord, mask_household
from kiosk.labels import make_pass
from kiosk.notices import REMINDER, RETURN_WARNING
from kiosk.notices.queue import _to_household, carrier_refs
from kiosk.ports import Clock, UnitOfWork
from kiosk.timefmt import iso

log = logging.getLogger(__name__)

RETURN = "return"  # the return warning's round
# The kinds quiet hours hold back, their retries too (kiosk.notices.delivery asks ``held_until``);
# pickup-ready, fresh food, collected, delivered: always at once.
HELD_KINDS = frozenset({REMINDER, RETURN_WARNING})


class ReminderRules(Protocol):
    """What reminders need of the configuration (``kiosk.services.Rules`` is one)."""

    community_name: str
    label_secret: bytes
    pickup: PickupRules
    channels: tuple[ChannelConfig, ...]
    timezone: tzinfo
    layout: Layout


@dataclass(frozen=True)
class RemindReport:
    """What one pass did: households told (reminders, return warnings), or quiet until when."""

    reminded: int = 0
    warned: int = 0
    quiet_until: datetime | None = None


def is_quiet(now: datetime, settings: NoticeSettings, timezone: tzinfo) -> bool:
    """Whether ``now`` falls in the quiet hours, read on the community's wall-clock.

    The wall-clock, not a fixed offset: in a zone with summer time 07:00 is 07:00 either way.
    """
    start, end = settings.quiet_from, settings.quiet_until
    if start is None or end is None:
        return False
    local = now.astimezone(timezone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight


def quiet_ends(now: datetime, settings: NoticeSettings, timezone: tzinfo) -> datetime:
    """When the quiet hours ``now`` falls in end (as a UTC-aware moment)."""
    local = now.astimezone(timezone)
    end: time = settings.quiet_until or time(0)
    day = local.date() if local.time().replace(tzinfo=None) < end else local.date() + timedelta(1)
    return datetime.combine(day, end, timezone).astimezone(now.tzinfo)


def held_until(kind: str, moment: datetime, settings: NoticeSettings,
               timezone: tzinfo) -> datetime:
    """When a notice of ``kind`` due at ``moment`` may go: the end of the quiet hours for a
    kind they hold (``HELD_KINDS``) due in them, else ``moment``."""
    if kind in HELD_KINDS and is_quiet(moment, settings, timezone):
        return quiet_ends(moment, settings, timezone)
    return moment


def remind_due(uow: UnitOfWork, rules: ReminderRules, settings: NoticeSettings,
               clock: Clock) -> RemindReport:
    """Queue the reminders and return warnings due now, one notice per household at most."""
    now = clock.now()
    if is_quiet(now, settings, rules.timezone):
        return RemindReport(quiet_until=quiet_ends(now, settings, rules.timezone))
    rounds = _rounds(settings, rules.pickup.return_after_days)
    if not rounds:
        return RemindReport()
    reminded = warned = 0
    with uow:
        waiting = uow.reminders.waiting_since(now - min(rounds.values()))
        said = uow.reminders.said(p.id for p in waiting)
        due = dict.fromkeys(p.household_id for p in waiting
                            if _unsaid(p, rounds, said, now))
        for hid in due:
            kind = _tell(uow, rules, hid, rounds, said, now)
            reminded += kind == REMINDER
            warned += kind == RETURN_WARNING
    return RemindReport(reminded, warned)


def _rounds(settings: NoticeSettings, return_days: int) -> dict[str, timedelta]:
    """Each round's name and how long a parcel has waited when it falls due."""
    rounds = {f"{d}d": timedelta(days=d) for d in settings.remind_after_days
              if d < return_days}
    if settings.warn_before_return_days and settings.warn_before_return_days < return_days:
        rounds[RETURN] = timedelta(days=return_days - settings.warn_before_return_days)
    return rounds


def _since(parcel: ParcelRecord, now: datetime) -> datetime:
    return parcel.checked_in_at or now


def _unsaid(parcel: ParcelRecord, rounds: dict[str, timedelta], said: set[tuple[int, str]],
            now: datetime) -> list[str]:
    """The rounds due for ``parcel`` now and not said of it yet."""
    return [name for name, after in rounds.items()
            if now - _since(parcel, now) >= after and (parcel.id, name) not in said]


def _tell(uow: UnitOfWork, rules: ReminderRules, hid: str, rounds: dict[str, timedelta],
          said: set[tuple[int, str]], now: datetime) -> str | None:
    """Queue one notice for the household and record every round it covers; its kind."""
    parcels = uow.parcels.waiting_for(hid)
    household = uow.households.get(HouseholdId.parse(hid))
    covered = [(p.id, name) for p in parcels for name in _unsaid(p, rounds, said, now)]
    for parcel_id, name in covered:
        uow.reminders.add(parcel_id, name, hid, now)
    if household is None or household.under_observation or not parcels:
        return None
    names = {name for _, name in covered}
    kind = RETURN_WARNING if RETURN in names else REMINDER
    payload = _payload(uow, rules, household.name, hid, parcels, now)
    if kind == RETURN_WARNING:
        payload["return_on"] = min(item["keep_until"] for item in payload["parcels"])
    else:
        payload["days"] = max(int(name[:-1]) for name in names)
    queued = _to_household(uow, kind, rules.channels, household, payload, parcels[0].id, now)
    log.info("%s for %s: %d parcel(s), queued on %d channel(s)", kind, mask_household(hid),
             len(parcels), queued)
    return kind


def _payload(uow: UnitOfWork, rules: ReminderRules, name: str, hid: str,
             parcels: list[ParcelRecord], now: datetime) -> dict[str, Any]:
    """The facts of a reminder: every waiting parcel (slot, place, since, until), the code."""
    keep = timedelta(days=rules.pickup.return_after_days)
    slots = {s.code: s for s in (*rules.layout.slots, rules.layout.overflow)}
    items = []
    for parcel in parcels:
        slot = slots.get(parcel.slot_code)
        place = rules.layout.place(slot) if slot else parcel.slot_code
        items.append({"id": parcel.id, "ref": parcel.ref, "slot": parcel.slot_code,
                      "place": names_in_languages(place=place)["place"],
                      "checked_in_at": iso(_since(parcel, now)),
                      "keep_until": iso(_since(parcel, now) + keep), "fresh": parcel.fresh})
    code = uow.codes.active_for(hid)
    community = rules.community_name
    return {
        "community": community, "household": hid, "name": name, "parcels": items,
        "carrier_refs": carrier_refs(parcels),
        "pickup_code": code and code.code,
        "pickup_qr": code and make_pass(rules.label_secret, hid, code.id, code.code),
        "at": iso(now),
        "names": names_in_languages(community=community),
    }
