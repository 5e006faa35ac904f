"""The append-only history of events, and the camera's stills linked to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kiosk.store.db import Db
from kiosk.timefmt import iso


class Events:
    MAX_TEXT = 500  # characters kept of any one text in an event's details

    def __init__(self, db: Db, stills: Stills | None = None) -> None:
        self.db = db
        self.stills = stills

    def add(self, kind: str, actor: str, now: datetime, *, parcel: int | None = None,
            household: str | None = None, slot: str | None = None, **detail: Any) -> None:
        """Append an event; texts are capped, since events are kept for good."""
        kept = {k: v[:self.MAX_TEXT] if isinstance(v, str) else v for k, v in detail.items()}
        cur = self.db.execute(
            """INSERT INTO events (at, kind, actor, parcel_id, household_id, slot_code, detail)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (iso(now), kind, actor[:self.MAX_TEXT], parcel, household, slot,
             json.dumps(kept, ensure_ascii=False, sort_keys=True)),
        )
        if self.stills is not None:
            self.stills.link(int(cur.lastrowid), now)

    def recorded(self, kind: str, parcel: int) -> bool:
        """True when an event of ``kind`` names ``parcel`` (through the parcel's index)."""
        return self.db.execute("SELECT 1 FROM events WHERE parcel_id = ? AND kind = ? LIMIT 1",
                               (parcel, kind)).fetchone() is not None

    def camera_lost(self) -> bool:
        """True when the newest camera event is ``camera_lost`` (through its partial index)."""
        row = self.db.execute(
            """SELECT kind FROM events WHERE kind IN ('camera_lost', 'camera_back')
               ORDER BY id DESC LIMIT 1""").fetchone()
        return row is not None and row["kind"] == "camera_lost"


class Stills:
    """The camera's still of a scan, kept with the events the scan recorded (migration 7).

    The scanner encodes the frame before acting and holds it here (``attached``) while the use
    case runs: the first event recorded stores the JPEG and each event links to it, inside the
    use case's own transaction. A kill -9 therefore leaves an event with its still, or
    neither; a refusal recorded after the use case rolled back stores the still again, with it.
    """

    def __init__(self, db: Db) -> None:
        self.db = db
        self._jpeg: bytes | None = None
        self._row: int | None = None  # the still stored in the current transaction

    @contextmanager
    def attached(self, jpeg: bytes | None) -> Iterator[None]:
        """Within: every event recorded gets ``jpeg`` as its still (None: no still)."""
        self._jpeg, self._row = jpeg, None
        try:
            yield
        finally:
            self._jpeg, self._row = None, None

    def begin(self) -> None:
        """A new transaction: a still stored by one that rolled back is gone."""
        self._row = None

    def link(self, event_id: int, now: datetime) -> None:
        """Give the event just recorded the attached still (stored once per transaction)."""
        if not self._jpeg:
            return
        if self._row is None:
            cur = self.db.execute("INSERT INTO stills (taken_at, jpeg) VALUES (?, ?)",
                                  (iso(now), self._jpeg))
            self._row = int(cur.lastrowid)
        self.db.execute("INSERT INTO event_stills (event_id, still_id) VALUES (?, ?)",
                        (event_id, self._row))

    def prune(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete the pictures of at most ``limit`` stills taken before ``before``.

        The row stays (without its JPEG), so a page can say the still was deleted. Oldest
        first, through the index of kept stills: a batch costs the same however many were
        deleted before.
        """
        cur = self.db.execute(
            "UPDATE stills SET jpeg = NULL, deleted_at = ? WHERE id IN (SELECT id FROM stills"
            " WHERE jpeg IS NOT NULL AND taken_at < ? ORDER BY taken_at LIMIT ?)",
            (iso(now), iso(before), limit))
        return cur.rowcount
