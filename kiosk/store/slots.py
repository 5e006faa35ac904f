"""The configured slots mirrored in the store, and which slot LEDs should be lit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kiosk.domain import Slot, format_buildings
from kiosk.ports import LightMode
from kiosk.store.db import Db
from kiosk.timefmt import iso


class Slots:
    def __init__(self, db: Db) -> None:
        self.db = db

    def sync(self, slots: Iterable[Slot]) -> None:
        """Mirror the configured slots (and overflow) so reads can join on them."""
        codes = []
        for slot in slots:
            codes.append(slot.code)
            self.db.execute(
                """INSERT INTO slots (code, shelf, position, capacity, buildings, overflow, active,
                                      button)
                   VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                   ON CONFLICT (code) DO UPDATE SET shelf = excluded.shelf,
                       position = excluded.position, capacity = excluded.capacity,
                       buildings = excluded.buildings, overflow = excluded.overflow, active = 1,
                       button = excluded.button""",
                (slot.code, slot.shelf, slot.position, slot.capacity,
                 format_buildings(slot.buildings), int(slot.overflow), int(slot.button)))
        marks = ",".join("?" * len(codes))
        self.db.execute(f"UPDATE slots SET active = 0 WHERE code NOT IN ({marks})", codes)


class Signals:
    """Which slot LEDs should be lit and until when: the lights are a projection of this.

    A slot has two layers (migration 10): the gate's (``on``, ``blink``: the latest replaces
    the one before) and the staff's (``collect``); the gate's shows while it lasts.
    """

    def __init__(self, db: Db) -> None:
        self.db = db

    def set(self, slot: str, mode: LightMode, until: datetime, reason: str) -> None:
        self.db.execute(
            """INSERT INTO signals (slot_code, layer, mode, until, reason) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (slot_code, layer) DO UPDATE SET mode = excluded.mode,
                   until = excluded.until, reason = excluded.reason""",
            (slot, signal_layer(mode), mode, iso(until), reason))

    def lit_for(self, reason: str, now: datetime) -> dict[str, datetime]:
        """Slot code -> until when, for the gate's lights of ``reason`` lasting at ``now``."""
        rows = self.db.execute(
            """SELECT slot_code, until FROM signals
               WHERE layer = 'gate' AND reason = ? AND until > ?""",
            (reason, iso(now))).fetchall()
        return {r["slot_code"]: datetime.fromisoformat(r["until"]) for r in rows}

    def clear(self, slot: str | None = None, *, reason: str | None = None) -> None:
        """Darken the gate's light of ``slot``, or every gate light of ``reason``."""
        self.db.execute(
            """DELETE FROM signals WHERE layer = 'gate' AND (?1 IS NULL OR slot_code = ?1)
               AND (?2 IS NULL OR reason = ?2)""", (slot, reason))

    def active(self, now: datetime) -> dict[str, LightMode]:
        """Slot code -> its mode for every slot that should be lit at ``now``.

        A running audit's slot (migration 25) blinks ``audit``: over a team's ``collect``,
        under the gate's light (a check-in into the slot being audited shows while it lasts).
        """
        rows = self.db.execute(
            """SELECT slot_code, mode, CASE layer WHEN 'gate' THEN 2 ELSE 0 END AS rank
               FROM signals WHERE until > ?
               UNION ALL
               SELECT slot_code, 'audit', 1 FROM audits
               WHERE status = 'running' AND slot_code IS NOT NULL
               ORDER BY rank""", (iso(now),)).fetchall()
        return {r["slot_code"]: r["mode"] for r in rows}  # the higher rank last: it wins


def signal_layer(mode: LightMode) -> str:
    """The layer of a light mode: a team's ``collect`` is the staff's, the rest the gate's."""
    return "staff" if mode == "collect" else "gate"
