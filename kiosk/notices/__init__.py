"""Notices to households, in three pieces: what is queued (``queue``), the words (``render``),
and the sending (``delivery``, the outbox worker); channel types live in ``channels``."""

PICKUP_READY = "pickup_ready"
DOOR_DELIVERY = "door_delivery"
TEAM_TASKS = "team_tasks"  # to a team: new tasks, fresh food, tasks handed over, an escalation
DOOR_DELIVERED = "door_delivered"  # to a household: staff brought its parcels to the door
PARCEL_CHANGED = "parcel_changed"  # to a household: staff handed out, moved, returned, withdrew
COLLECTED = "collected"  # to a household: its parcels left the shelf with its code or QR
REMINDER = "reminder"  # to a household: parcels still waiting after N days (notices.reminders)
RETURN_WARNING = "return_warning"  # to a household: parcels go back to the courier on a date
