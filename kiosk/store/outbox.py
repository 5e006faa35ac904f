"""The outbox: notices to send, claimed by a worker, down a chain of contacts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kiosk.domain import QueuedNotice
from kiosk.store.db import Db
from kiosk.timefmt import iso


class Outbox:
    """The notices to send. A row names the contact being tried (``channel``, ``recipient``)
    and the chain it belongs to; a worker claims a row (``claimed_by`` until ``lease_until``)
    before it sends, and only the claimant records the outcome of a failed attempt."""

    COLUMNS = ("id, kind, channel, recipient, household_id, parcel_id, payload, attempts,"
               " contacts, contact_index, contact_attempts")

    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, kind: str, channel: str, recipient: str, payload: Mapping[str, Any],
            now: datetime, *, household: str | None = None, parcel: int | None = None,
            contacts: Sequence[tuple[str, str]] = ()) -> int:
        """Queue a notice to ``recipient`` on ``channel``, the first of ``contacts`` if given."""
        chain = [list(c) for c in contacts] or [[channel, recipient]]
        cur = self.db.execute(
            """INSERT INTO outbox (created_at, kind, channel, recipient, household_id,
                                   parcel_id, payload, next_attempt_at, contacts)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (iso(now), kind, channel, recipient, household, parcel,
             json.dumps(dict(payload), ensure_ascii=False, sort_keys=True), iso(now),
             json.dumps(chain, ensure_ascii=False)),
        )
        return int(cur.lastrowid)

    def due(self, now: datetime, limit: int = 20) -> list[QueuedNotice]:
        rows = self.db.execute(
            f"SELECT {self.COLUMNS} FROM outbox WHERE status = 'pending'"
            " AND next_attempt_at <= ? ORDER BY id LIMIT ?", (iso(now), limit)).fetchall()
        return [QueuedNotice(**dict(r)) for r in rows]

    def claim(self, now: datetime, worker: str, lease_until: datetime, *,
              skip_channels: Iterable[str] = (), skip_ids: Iterable[int] = ()
              ) -> QueuedNotice | None:
        """Claim the longest-due notice no live lease holds (in the caller's transaction).

        Rows of ``skip_channels`` and ``skip_ids`` are left for later. In the order of the
        ``outbox_due`` index (due time, then id): the first row that qualifies ends the walk,
        where ordering by id alone sorted every due row on each claim (a backlog's cost).
        """
        channels, ids = list(skip_channels), list(skip_ids)
        row = self.db.execute(
            f"""UPDATE outbox SET claimed_by = ?, lease_until = ?
                WHERE id = (SELECT id FROM outbox WHERE status = 'pending'
                            AND next_attempt_at <= ?
                            AND (lease_until IS NULL OR lease_until <= ?)
                            AND channel NOT IN ({",".join("?" * len(channels))})
                            AND id NOT IN ({",".join("?" * len(ids))})
                            ORDER BY next_attempt_at, id LIMIT 1)
                RETURNING {self.COLUMNS}""",
            (worker, iso(lease_until), iso(now), iso(now), *channels, *ids)).fetchone()
        return QueuedNotice(**dict(row)) if row else None

    def mark_sent(self, notice_id: int, now: datetime) -> None:
        """Record a delivery, whoever holds the claim now: the notice went out."""
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " contact_attempts = contact_attempts + 1, last_error = NULL, claimed_by = NULL,"
            " lease_until = NULL WHERE id = ?", (iso(now), notice_id))

    def mark_failed(self, notice_id: int, error: str, retry_at: datetime | None, *,
                    worker: str | None = None) -> bool:
        """Record a failed attempt; retry at ``retry_at``, or give up when it is None.

        With ``worker``, only while that worker holds the claim (a slower worker whose lease
        ran out must not undo what another did since); whether the row was changed.
        """
        cur = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, contact_attempts = contact_attempts + 1,"
            " last_error = ?, status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END,"
            " next_attempt_at = COALESCE(?, next_attempt_at), claimed_by = NULL,"
            " lease_until = NULL WHERE id = ? AND status = 'pending'"
            " AND (? IS NULL OR claimed_by = ?)",
            (error[:500], retry_at and iso(retry_at), retry_at and iso(retry_at), notice_id,
             worker, worker))
        return cur.rowcount == 1

    def postpone(self, notice_id: int, until: datetime, worker: str) -> bool:
        """Give a claimed notice back unsent, due at ``until``, no attempt counted (quiet
        hours); only while ``worker`` holds the claim. Whether the row was changed."""
        cur = self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, claimed_by = NULL, lease_until = NULL"
            " WHERE id = ? AND status = 'pending' AND claimed_by = ?",
            (iso(until), notice_id, worker))
        return cur.rowcount == 1

    def fall_back(self, notice_id: int, error: str, now: datetime, *,
                  worker: str | None = None) -> bool:
        """Count a failed attempt and move on to the next contact of the chain, due now.

        With ``worker``, only while that worker holds the claim; whether the row was changed.
        """
        cur = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " contact_index = contact_index + 1, contact_attempts = 0,"
            " channel = json_extract(contacts, '$[' || (contact_index + 1) || '][0]'),"
            " recipient = json_extract(contacts, '$[' || (contact_index + 1) || '][1]'),"
            " next_attempt_at = ?, claimed_by = NULL, lease_until = NULL"
            " WHERE id = ? AND status = 'pending' AND contact_index + 1 < json_array_length("
            "contacts) AND (? IS NULL OR claimed_by = ?)",
            (error[:500], iso(now), notice_id, worker, worker))
        return cur.rowcount == 1

    def failed(self, ids: Iterable[int] | None = None) -> list[QueuedNotice]:
        """Notices that gave up: all of them, or those among ``ids``."""
        sql = f"SELECT {self.COLUMNS} FROM outbox WHERE status = 'failed'"
        if ids is None:
            return [QueuedNotice(**dict(r)) for r in self.db.execute(sql + " ORDER BY id")]
        wanted = list(dict.fromkeys(ids))
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(f"{sql} AND id IN ({marks}) ORDER BY id", wanted)
        return [QueuedNotice(**dict(r)) for r in rows]

    def status(self, notice_id: int) -> str | None:
        """'pending', 'sent' or 'failed'; None when there is no such notice."""
        row = self.db.execute("SELECT status FROM outbox WHERE id = ?", (notice_id,)).fetchone()
        return row["status"] if row else None

    def requeue(self, notice_id: int, now: datetime) -> None:
        """Make a failed notice pending again, due now, from the first contact of its chain,
        with its attempts counted from zero."""
        self.db.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, last_error = NULL,"
            " contact_index = 0, contact_attempts = 0,"
            " channel = COALESCE(json_extract(contacts, '$[0][0]'), channel),"
            " recipient = COALESCE(json_extract(contacts, '$[0][1]'), recipient),"
            " claimed_by = NULL, lease_until = NULL,"
            " next_attempt_at = ? WHERE id = ? AND status = 'failed'", (iso(now), notice_id))
