"""What is queued in the outbox at check-in (and for door tasks), in the use case's transaction.

The outbox row holds the facts (a JSON payload), not the rendered text: the sender renders it
(``kiosk.notices.render``) so that a wording fix reaches notices still waiting to go out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from kiosk.channels import CHANNEL_TYPES
from kiosk.config import ChannelConfig, Layout, Team, names_in_languages
from kiosk.domain import Household, ParcelKind, ParcelRecord, Slot
from kiosk.notices import (
    COLLECTED,
    DOOR_DELIVERED,
    DOOR_DELIVERY,
    PARCEL_CHANGED,
    PICKUP_READY,
    TEAM_TASKS,
)
from kiosk.ports import UnitOfWork
from kiosk.timefmt import iso


def carrier_refs(parcels: Iterable[ParcelRecord]) -> list[str]:
    """The refs that are carriers' tracking numbers (a payload's ``carrier_refs``): a notice
    calls them 快递单号, where a resident looks for the courier's number, and the others (the
    shelf's own labels') 货架标签号."""
    return [p.ref for p in parcels if p.kind is ParcelKind.CARRIER]


def queue_checkin(uow: UnitOfWork, community: str, place: str,
                  channels: tuple[ChannelConfig, ...], household: Household, slot: Slot,
                  parcel: int, ref: str, pickup_pass: str | None, code: str | None,
                  now: datetime, *, checked_in_at: datetime | None = None,
                  keep_days: int | None = None, fresh: bool = False,
                  carrier: bool = False) -> int:
    """Queue the notice to the household's chain of contacts; 0 when it has none (recorded
    as ``notice_unreachable``: the staff site's exceptions list shows it).

    ``checked_in_at``: when the parcel came, if not ``now`` (a parcel already on the shelf);
    ``keep_days``: how long the shelf keeps it ([pickup] return_after_days), for "kept until";
    ``fresh``: fresh food, which the notice says first; ``carrier``: ``ref`` is a carrier's
    tracking number. Never deferred (quiet hours are for reminders only).
    """
    kind = DOOR_DELIVERY if household.under_observation else PICKUP_READY
    payload = {
        "community": community,
        "household": str(household.id),
        "name": household.name,
        "parcel": parcel,
        "parcel_ref": ref,
        "carrier_refs": [ref] if carrier else [],
        "slot": slot.code,
        "place": place,
        "pickup_code": code,
        "pickup_qr": pickup_pass,
        "checked_in_at": iso(checked_in_at or now),
        "names": names_in_languages(community=community, place=place),  # per language
        "fresh": fresh,
    }
    if keep_days is not None:
        payload["keep_until"] = iso((checked_in_at or now) + timedelta(days=keep_days))
    queued = _to_household(uow, kind, channels, household, payload, parcel, now)
    if not queued:
        uow.events.add("notice_unreachable", "system", now, parcel=parcel,
                       household=str(household.id), slot=slot.code,
                       channels=[c.id for c in channels])
    return queued


def queue_waiting(uow: UnitOfWork, community: str, layout: Layout,
                  channels: tuple[ChannelConfig, ...], household: Household,
                  parcel: ParcelRecord, pickup_pass: str | None, code: str | None,
                  now: datetime, *, keep_days: int | None = None) -> int:
    """Queue the check-in's notice again for a parcel already on the shelf, as ``household``
    stands now (released: a pickup code; under observation: staff will bring it).

    It says when the parcel came, not when its household's state changed.
    """
    slots = {s.code: s for s in (*layout.slots, layout.overflow)}
    # A slot since removed from the configuration still holds the parcel: name it as it is.
    slot = slots.get(parcel.slot_code) or replace(layout.overflow, code=parcel.slot_code)
    return queue_checkin(uow, community, layout.place(slot), channels, household, slot,
                         parcel.id, parcel.ref, pickup_pass, code, now,
                         checked_in_at=parcel.checked_in_at, keep_days=keep_days,
                         fresh=parcel.fresh, carrier=parcel.kind is ParcelKind.CARRIER)


def queue_delivered(uow: UnitOfWork, channels: tuple[ChannelConfig, ...], household: Household,
                    payload: Mapping[str, Any], parcel: int, now: datetime) -> int:
    """Queue "delivered to your door" to the household's chain of contacts."""
    queued = _to_household(uow, DOOR_DELIVERED, channels, household, payload, parcel, now)
    if not queued:
        uow.events.add("notice_unreachable", "system", now, parcel=parcel,
                       household=str(household.id), channels=[c.id for c in channels])
    return queued


def queue_team(uow: UnitOfWork, team: Team, payload: Mapping[str, Any], now: datetime) -> int:
    """Queue a notice about door tasks to each of the team's contacts ([[teams]] notify).

    A team without contacts is recorded (``team_not_told``): it sees its tasks on /tasks.
    """
    for contact in team.notify:
        uow.outbox.add(TEAM_TASKS, contact.channel, contact.to, payload, now)
    if not team.notify:
        uow.events.add("team_not_told", "system", now, team=team.id,
                       reason=payload.get("reason"), tasks=[t["id"] for t in payload["tasks"]])
    return len(team.notify)


def queue_changed(uow: UnitOfWork, channels: tuple[ChannelConfig, ...], household: Household,
                  payload: Mapping[str, Any], parcel: int, now: datetime) -> int:
    """Queue "staff did this to your parcel" to the household's chain of contacts.

    A household no channel reaches was noted so at check-in (``notice_unreachable``).
    """
    return _to_household(uow, PARCEL_CHANGED, channels, household, payload, parcel, now)


def queue_collected(uow: UnitOfWork, community: str, channels: tuple[ChannelConfig, ...],
                    household: Household, parcels: Sequence[ParcelRecord], via: str,
                    now: datetime) -> int:
    """Queue "collected" (已取件): the household's parcels just left the shelf with its code or
    QR (``via``). Staff handing out, delivering or returning tell of it in their own notice."""
    payload = {
        "community": community,
        "household": str(household.id),
        "name": household.name,
        "parcel_refs": [p.ref for p in parcels],
        "carrier_refs": carrier_refs(parcels),
        "slots": list(dict.fromkeys(p.slot_code for p in parcels)),
        "via": via,
        "at": iso(now),
        "names": names_in_languages(community=community),
    }
    return _to_household(uow, COLLECTED, channels, household, payload, parcels[0].id, now)


def _to_household(uow: UnitOfWork, kind: str, channels: tuple[ChannelConfig, ...],
                  household: Household, payload: Mapping[str, Any], parcel: int,
                  now: datetime) -> int:
    """Queue ``kind`` once, to the household's chain of contacts; 1, or 0 when it has none.

    The chain (``contacts``) is the order of preference: the channels in the order they are
    configured, and on each the household's addresses in their own order (the phone column's
    numbers as listed). The worker tries the first, and falls back to the next once its
    retries there are spent (``kiosk.notices.delivery``).
    """
    chain = contacts(channels, household)
    if not chain:
        return 0
    (channel, recipient), *_ = chain
    uow.outbox.add(kind, channel, recipient, payload, now, household=str(household.id),
                   parcel=parcel, contacts=chain)
    return 1


def contacts(channels: tuple[ChannelConfig, ...], household: Household) -> list[tuple[str, str]]:
    """The household's contacts in order of preference: (channel id, address) pairs."""
    chain = [(channel.id, address) for channel in channels
             for address in CHANNEL_TYPES[channel.type].recipient(household, channel.options)]
    return list(dict.fromkeys(chain))
