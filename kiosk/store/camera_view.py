"""The camera view's one row (migration 0026): the staff page asks, the kiosk answers."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from kiosk.store.db import translated_errors, without_waiting_for_the_disk
from kiosk.timefmt import iso


def want_view(conn: sqlite3.Connection, until: datetime) -> None:
    """A page is open: the kiosk publishes its frames until ``until`` (never shortened)."""
    with translated_errors():
        conn.execute("UPDATE camera_view SET wanted_until = max(coalesce(wanted_until, ''), ?)"
                     " WHERE id = 1", (iso(until),))


def view_wanted(conn: sqlite3.Connection, now: datetime) -> bool:
    with translated_errors():
        row = conn.execute("SELECT wanted_until FROM camera_view WHERE id = 1").fetchone()
    return row is not None and row[0] is not None and row[0] > iso(now)


def publish_view(conn: sqlite3.Connection, seen_at: datetime, jpeg: bytes,
                 sight: dict[str, Any]) -> None:
    """The kiosk's newest frame and what was seen in it, without an fsync (it is rewritten
    a second later; a check-in must never wait behind it)."""
    with without_waiting_for_the_disk(conn), translated_errors():
        conn.execute("UPDATE camera_view SET seen_at = ?, jpeg = ?, sight = ? WHERE id = 1",
                     (iso(seen_at), jpeg, json.dumps(sight)))


def latest_view(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The last frame published: ``seen_at``, ``jpeg``, ``sight``; None before the first."""
    with translated_errors():
        row = conn.execute("SELECT seen_at, jpeg, sight FROM camera_view WHERE id = 1"
                           ).fetchone()
    if row is None or row[0] is None:
        return None
    return {"seen_at": row[0], "jpeg": bytes(row[1]), "sight": json.loads(row[2])}
