"""Notices to households: what is queued in the outbox at check-in, in the same transaction.

The outbox row holds the facts (a JSON payload), not the rendered text: the sender renders it
(``kiosk.outbox``) so that a wording fix reaches notices still waiting to go out.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kiosk.config import Config
from kiosk.domain import Household, Slot
from kiosk.store import UnitOfWork, iso

log = logging.getLogger(__name__)

PICKUP_READY = "pickup_ready"
DOOR_DELIVERY = "door_delivery"


def recipient_for(channel_type: str, household: Household) -> str:
    """The household's address on a channel type, or '' when it has none there."""
    return {"email": household.email}.get(channel_type, "")


def queue_checkin(uow: UnitOfWork, config: Config, household: Household, slot: Slot,
                  parcel: int, ref: str, pickup_pass: str | None, code: str | None,
                  now: datetime) -> int:
    """Queue one notice per configured channel the household can be reached on."""
    kind = DOOR_DELIVERY if household.under_observation else PICKUP_READY
    place = config.overflow_name if slot.overflow else _shelf_name(config, slot.shelf)
    payload = {
        "community": config.community_name,
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
    for channel in config.channels:
        recipient = recipient_for(channel.type, household)
        if recipient:
            uow.outbox.add(kind, channel.id, recipient, payload, now,
                           household=str(household.id), parcel=parcel)
            queued += 1
    if not queued:
        uow.events.add("notice_unreachable", "system", now, parcel=parcel,
                       household=str(household.id), slot=slot.code,
                       channels=[c.id for c in config.channels])
    return queued


def _shelf_name(config: Config, shelf_id: str) -> str:
    return next(s.name for s in config.shelves if s.id == shelf_id)
