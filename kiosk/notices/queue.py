"""What is queued in the outbox at check-in, in the check-in's own transaction.

The outbox row holds the facts (a JSON payload), not the rendered text: the sender renders it
(``kiosk.notices.render``) so that a wording fix reaches notices still waiting to go out.
"""

from __future__ import annotations

from datetime import datetime

from kiosk.config import ChannelConfig
from kiosk.domain import Household, Slot
from kiosk.notices import DOOR_DELIVERY, PICKUP_READY
from kiosk.notices.channels import CHANNEL_TYPES
from kiosk.ports import UnitOfWork
from kiosk.store import iso


def queue_checkin(uow: UnitOfWork, community: str, place: str,
                  channels: tuple[ChannelConfig, ...], household: Household, slot: Slot,
                  parcel: int, ref: str, pickup_pass: str | None, code: str | None,
                  now: datetime) -> int:
    """Queue one notice per configured channel the household can be reached on."""
    kind = DOOR_DELIVERY if household.under_observation else PICKUP_READY
    payload = {
        "community": community,
        "household": str(household.id),
        "name": household.name,
        "parcel": parcel,
        "parcel_ref": ref,
        "slot": slot.code,
        "place": place,
        "pickup_code": code,
        "pickup_qr": pickup_pass,
        "checked_in_at": iso(now),
    }
    queued = 0
    for channel in channels:
        recipient = CHANNEL_TYPES[channel.type].recipient(household)
        if recipient:
            uow.outbox.add(kind, channel.id, recipient, payload, now,
                           household=str(household.id), parcel=parcel)
            queued += 1
    if not queued:
        uow.events.add("notice_unreachable", "system", now, parcel=parcel,
                       household=str(household.id), slot=slot.code,
                       channels=[c.id for c in channels])
    return queued
