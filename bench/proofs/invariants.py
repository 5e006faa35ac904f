"""What must hold in a store at any moment, whatever happened to the processes writing it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Each query returns the offending rows; an empty answer means the rule holds.
RULES = {
    "a waiting parcel without an active slot": """
        SELECT p.id FROM parcels p LEFT JOIN slots s ON s.code = p.slot_code
        WHERE p.status = 'waiting' AND (s.code IS NULL OR s.active = 0)""",
    "a collected parcel without closed_at": """
        SELECT id FROM parcels WHERE status = 'collected' AND closed_at IS NULL""",
    "a waiting parcel with closed_at": """
        SELECT id FROM parcels WHERE status = 'waiting' AND closed_at IS NOT NULL""",
    "a notice for a parcel that does not exist": """
        SELECT o.id FROM outbox o WHERE o.parcel_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM parcels p WHERE p.id = o.parcel_id)""",
    "a parcel without its check-in event": """
        SELECT p.id FROM parcels p WHERE NOT EXISTS (
            SELECT 1 FROM events e WHERE e.parcel_id = p.id AND e.kind = 'checked_in')""",
    "a parcel without its notice (or the note why none could go)": """
        SELECT p.id FROM parcels p
        WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.parcel_id = p.id)
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.parcel_id = p.id
                          AND e.kind = 'notice_unreachable')""",
    "a collected parcel without its collection event": """
        SELECT p.id FROM parcels p WHERE p.status = 'collected' AND NOT EXISTS (
            SELECT 1 FROM events e WHERE e.parcel_id = p.id AND e.kind = 'collected')""",
    "a waiting parcel whose pickup code no longer opens it": """
        SELECT p.id FROM parcels p JOIN pickup_codes c ON c.id = p.pickup_code_id
        WHERE p.status = 'waiting' AND c.used_at IS NOT NULL""",
}


def broken_rules(conn: sqlite3.Connection) -> list[str]:
    """Every rule the store breaks, each with a few offending row ids; [] when all hold."""
    problems = []
    check = conn.execute("PRAGMA integrity_check").fetchall()
    if [tuple(r) for r in check] != [("ok",)]:
        problems.append(f"integrity_check: {[tuple(r) for r in check][:3]}")
    keys = conn.execute("PRAGMA foreign_key_check").fetchall()
    if keys:
        problems.append(f"foreign_key_check: {[tuple(r) for r in keys][:3]}")
    for rule, sql in RULES.items():
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
