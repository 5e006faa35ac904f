"""The connection as the repositories use it: SQLite's errors become the shelf's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kiosk.errors import NotAStore, StorageFull, StoreUnavailable
from kiosk.timefmt import iso


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn SQLite's own errors into the shelf's: the callers above the store never see them."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a broken rule of the schema, not an unavailable store: callers decide
    except sqlite3.Error as exc:
        raise unavailable(exc) from exc


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    """The shelf's error for an SQLite error that means the store cannot serve now."""
    text = str(exc)
    if "full" in text:
        return StorageFull(f"the storage is full ({text}); nothing was saved")
    if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return NotAStore(f"the database is damaged ({text}); nothing was saved: restore a "
                         "backup (shelf restore)")
    return StoreUnavailable(f"the database is unavailable ({text}); nothing was saved")


class Db:
    """The connection as the repositories use it: every statement's errors translated."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with translated_errors():
            return self.conn.execute(sql, tuple(params))


@contextmanager
def without_waiting_for_the_disk(conn: sqlite3.Connection) -> Iterator[None]:
    """Commit the transactions inside without an fsync each (WAL, ``synchronous=NORMAL``).

    For bookkeeping a power cut may lose the last seconds of (sign-in attempts): the commit
    holds the write lock for a fraction of a millisecond instead of an fsync (tens of ms on an
    SD card), so a flood of such writes cannot stall the kiosk. The file stays consistent, and
    a later ``FULL`` commit makes these durable with it.
    """
    with translated_errors():
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        with translated_errors():
            conn.execute("PRAGMA synchronous = FULL")


def record_heartbeat(conn: sqlite3.Connection, beat_at: datetime,
                     last_frame_at: datetime | None) -> None:
    """Say that the kiosk loop is alive (and when it last read a frame), without an fsync.

    A beat lost to a power cut is written again seconds later; it must never make a check-in
    wait behind the SD card.
    """
    with without_waiting_for_the_disk(conn), translated_errors():
        conn.execute(
            "INSERT INTO kiosk_heartbeat (id, beat_at, last_frame_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at,"
            " last_frame_at = excluded.last_frame_at",
            (iso(beat_at), last_frame_at and iso(last_frame_at)))
