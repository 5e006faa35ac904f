"""What must hold in a store at any moment, whatever happened to the processes writing it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Each query returns the offending rows; an empty answer means the rule holds. Each is
# set-based (NOT IN a subquery SQLite builds once), so checking stays cheap as the store grows.
RULES = {
    "a waiting parcel without an active slot": """
        SELECT id FROM parcels WHERE status = 'waiting'
        AND slot_code NOT IN (SELECT code FROM slots WHERE active = 1)""",
    "a parcel off the shelf without closed_at": """
        SELECT id FROM parcels WHERE status != 'waiting' AND closed_at IS NULL""",
    "a waiting parcel with closed_at": """
        SELECT id FROM parcels WHERE status = 'waiting' AND closed_at IS NOT NULL""",
    "a notice for a parcel that does not exist": """
        SELECT id FROM outbox WHERE parcel_id IS NOT NULL
        AND parcel_id NOT IN (SELECT id FROM parcels)""",
    "a parcel without its check-in event": """
        SELECT id FROM parcels WHERE id NOT IN (
            SELECT parcel_id FROM events WHERE kind = 'checked_in' AND parcel_id IS NOT NULL)""",
    "a parcel without its notice (or the note why none could go)": """
        SELECT id FROM parcels
        WHERE id NOT IN (SELECT parcel_id FROM outbox WHERE parcel_id IS NOT NULL)
          AND id NOT IN (SELECT parcel_id FROM events WHERE kind = 'notice_unreachable'
                         AND parcel_id IS NOT NULL)""",
    "a collected parcel without its collection (or door delivery, or staff hand-out) event": """
        SELECT id FROM parcels WHERE status = 'collected' AND id NOT IN (
            SELECT parcel_id FROM events WHERE kind IN ('collected', 'delivered', 'handed_out')
            AND parcel_id IS NOT NULL)""",
    # Staff actions (kiosk.staff_actions): a parcel returned to the courier, or withdrawn (its
    # check-in undone), has the event that says who did it and why; a withdrawn one has given
    # up its label (the same label may check in again); a move never overfills a slot.
    "a returned parcel without its return event": """
        SELECT id FROM parcels WHERE status = 'returned' AND id NOT IN (
            SELECT parcel_id FROM events WHERE kind = 'returned' AND parcel_id IS NOT NULL)""",
    "a withdrawn parcel without its undo event": """
        SELECT id FROM parcels WHERE status = 'withdrawn' AND id NOT IN (
            SELECT parcel_id FROM events WHERE kind = 'checkin_undone'
            AND parcel_id IS NOT NULL)""",
    "a withdrawn parcel still holding its label": """
        SELECT id FROM parcels WHERE status = 'withdrawn'
        AND label NOT LIKE '%#undone-' || id""",
    "a slot holding more waiting parcels than it has room for": """
        SELECT p.slot_code FROM parcels p JOIN slots s ON s.code = p.slot_code
        WHERE p.status = 'waiting' AND s.overflow = 0
        GROUP BY p.slot_code, s.capacity HAVING COUNT(*) > s.capacity""",
    "a parcel in another household's door task": """
        SELECT p.id FROM door_task_parcels tp JOIN door_tasks t ON t.id = tp.task_id
        JOIN parcels p ON p.id = tp.parcel_id WHERE p.household_id != t.household_id""",
    "a delivered door task with a parcel still waiting": """
        SELECT p.id FROM door_task_parcels tp JOIN door_tasks t ON t.id = tp.task_id
        JOIN parcels p ON p.id = tp.parcel_id
        WHERE t.status = 'delivered' AND p.status = 'waiting'""",
    # A code withdrawn when its household went under observation opens nothing, on purpose.
    "a waiting parcel whose pickup code no longer opens it": """
        SELECT id FROM parcels WHERE status = 'waiting' AND pickup_code_id IN (
            SELECT id FROM pickup_codes WHERE used_at IS NOT NULL AND revoked_at IS NULL)""",
    "a waiting parcel no pickup code opens, of a household not under observation": """
        SELECT p.id FROM parcels p JOIN households h ON h.id = p.household_id
        WHERE p.status = 'waiting' AND h.under_observation = 0 AND p.household_id NOT IN (
            SELECT household_id FROM pickup_codes WHERE used_at IS NULL)""",
    # Door tasks (kiosk.tasks): open only while a parcel of theirs waits, for a household
    # under observation (cancelled on release), never two open for one parcel; every waiting
    # parcel of a household under observation is in one, and no pickup code opens it.
    "an open door task with no parcel waiting": """
        SELECT id FROM door_tasks WHERE status = 'open' AND id NOT IN (
            SELECT tp.task_id FROM door_task_parcels tp JOIN parcels p ON p.id = tp.parcel_id
            WHERE p.status = 'waiting')""",
    "a parcel in more than one open door task": """
        SELECT tp.parcel_id FROM door_task_parcels tp JOIN door_tasks t ON t.id = tp.task_id
        WHERE t.status = 'open' GROUP BY tp.parcel_id HAVING COUNT(*) > 1""",
    "an open door task of a household not under observation (not cancelled on release)": """
        SELECT t.id FROM door_tasks t JOIN households h ON h.id = t.household_id
        WHERE t.status = 'open' AND h.under_observation = 0""",
    "a waiting parcel of a household under observation in no open door task": """
        SELECT p.id FROM parcels p JOIN households h ON h.id = p.household_id
        WHERE p.status = 'waiting' AND h.under_observation = 1 AND p.id NOT IN (
            SELECT tp.parcel_id FROM door_task_parcels tp JOIN door_tasks t
            ON t.id = tp.task_id WHERE t.status = 'open')""",
    "an active pickup code of a household under observation": """
        SELECT c.id FROM pickup_codes c JOIN households h ON h.id = c.household_id
        WHERE c.used_at IS NULL AND h.under_observation = 1""",
    "a cancelled door task without its reason": """
        SELECT id FROM door_tasks WHERE status = 'cancelled' AND closed_reason IS NULL""",
    "a still that no event has": """
        SELECT id FROM stills WHERE id NOT IN (SELECT still_id FROM event_stills)""",
}
# Where every action was a camera scan with its still (the kill -9 proof's driver attaches one).
STILL_RULES = {
    "a check-in or pickup event without its still": """
        SELECT id FROM events WHERE kind IN ('checked_in', 'collected')
        AND id NOT IN (SELECT event_id FROM event_stills)""",
}


def broken_rules(conn: sqlite3.Connection, *, every_scan_has_a_still: bool = False) -> list[str]:
    """Every rule the store breaks, each with a few offending row ids; [] when all hold."""
    problems = []
    check = conn.execute("PRAGMA integrity_check").fetchall()
    if [tuple(r) for r in check] != [("ok",)]:
        problems.append(f"integrity_check: {[tuple(r) for r in check][:3]}")
    keys = conn.execute("PRAGMA foreign_key_check").fetchall()
    if keys:
        problems.append(f"foreign_key_check: {[tuple(r) for r in keys][:3]}")
    rules = {**RULES, **(STILL_RULES if every_scan_has_a_still else {})}
    for rule, sql in rules.items():
        rows = conn.execute(sql).fetchall()
        if rows:
            problems.append(f"{rule}: ids {[r[0] for r in rows][:5]}")
    return problems


def check_file(database: Path) -> list[str]:
    """``broken_rules`` on a fresh connection to ``database`` (as a restarted process sees it)."""
    conn = sqlite3.connect(database)
    try:
        return broken_rules(conn)
    finally:
        conn.close()
