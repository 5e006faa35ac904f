"""Notices to households, in three pieces: what is queued (``queue``), the words (``render``),
and the sending (``delivery``, the outbox worker); channel types live in ``channels``."""

PICKUP_READY = "pickup_ready"
DOOR_DELIVERY = "door_delivery"
TEAM_TASKS = "team_tasks"  # to a team: fresh food, tasks handed over to it, an escalation
DOOR_DELIVERED = "door_delivered"  # to a household: staff brought its parcels to the door
PARCEL_CHANGED = "parcel_changed"  # to a household: staff handed out, moved, returned, withdrew
