"""Notices to households, in three pieces: what is queued (``queue``), the words (``render``),
and the sending (``delivery``, the outbox worker); channel types live in ``channels``."""

PICKUP_READY = "pickup_ready"
DOOR_DELIVERY = "door_delivery"
