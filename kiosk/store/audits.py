"""The shelf audits (migration 25): which is open, the slots it confirmed, what it found."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kiosk.domain import AuditRecord, ParcelRecord, Problem
from kiosk.store.db import Db
from kiosk.store.parcels import PARCEL_COLUMNS, parcel_record
from kiosk.timefmt import iso


class Audits:
    def __init__(self, db: Db) -> None:
        self.db = db

    def open(self) -> AuditRecord | None:
        """The running or paused audit, if any (there is one at most)."""
        row = self.db.execute("SELECT * FROM audits WHERE status != 'done'").fetchone()
        return None if row is None else _audit(row)

    def get(self, audit_id: int) -> AuditRecord | None:
        row = self.db.execute("SELECT * FROM audits WHERE id = ?", (audit_id,)).fetchone()
        return None if row is None else _audit(row)

    def start(self, by: str, now: datetime) -> int:
        cur = self.db.execute("INSERT INTO audits (started_at, started_by) VALUES (?, ?)",
                              (iso(now), by))
        return int(cur.lastrowid)

    def go_to(self, audit_id: int, slot: str | None) -> None:
        """Make ``slot`` the one being checked."""
        self.db.execute("UPDATE audits SET slot_code = ? WHERE id = ?", (slot, audit_id))

    def set_status(self, audit_id: int, status: str) -> None:
        """Pause or resume (``paused``, ``running``)."""
        self.db.execute("UPDATE audits SET status = ? WHERE id = ?", (status, audit_id))

    def end(self, audit_id: int, by: str, now: datetime, slots_left: int) -> None:
        self.db.execute("UPDATE audits SET status = 'done', slot_code = NULL, ended_at = ?,"
                        " ended_by = ?, slots_left = ? WHERE id = ?",
                        (iso(now), by, slots_left, audit_id))

    def check(self, audit_id: int, slot: str, by: str, how: str, listed: int,
              now: datetime) -> None:
        """Record that ``slot`` was confirmed."""
        self.db.execute("INSERT INTO audit_slots (audit_id, slot_code, checked_at, checked_by,"
                        " how, listed) VALUES (?, ?, ?, ?, ?, ?)",
                        (audit_id, slot, iso(now), by, how, listed))

    def to_check(self, audit_id: int, after: str | None) -> list[str]:
        """The shelf's slots holding parcels that the audit has not confirmed yet, in shelf
        order starting after ``after`` (then from the start again)."""
        rows = self.db.execute(
            """SELECT s.code FROM slots s
               WHERE s.active = 1 AND s.overflow = 0
                 AND EXISTS (SELECT 1 FROM parcels p
                             WHERE p.status = 'waiting' AND p.slot_code = s.code)
                 AND NOT EXISTS (SELECT 1 FROM audit_slots a
                                 WHERE a.audit_id = ? AND a.slot_code = s.code)
               ORDER BY s.position <= COALESCE(
                            (SELECT position FROM slots WHERE code = ?), -1), s.position""",
            (audit_id, after)).fetchall()
        return [r["code"] for r in rows]

    def listed(self, slot: str) -> list[ParcelRecord]:
        """The parcels the store says ``slot`` holds, oldest first."""
        rows = self.db.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE status = 'waiting'"
                               " AND slot_code = ? ORDER BY id", (slot,)).fetchall()
        return [parcel_record(r) for r in rows]

    def find_parcel(self, text: str) -> ParcelRecord | None:
        """The newest parcel whose waybill (reference) or label is ``text``."""
        row = self.db.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE ref = ?1"
                              " OR label = ?1 ORDER BY id DESC LIMIT 1", (text,)).fetchone()
        return None if row is None else parcel_record(row)

    def note(self, audit_id: int, kind: str, slot: str, now: datetime, by: str, *,
             parcel: int | None = None, home_slot: str | None = None,
             waybill: str | None = None) -> None:
        """Record a discrepancy; a parcel noted before in this audit takes the new finding
        (missing in its slot, then found in another: moved)."""
        self.db.execute(
            """INSERT INTO audit_problems (audit_id, kind, slot_code, parcel_id, home_slot,
                                           waybill, noted_at, noted_by)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (audit_id, parcel_id) DO UPDATE SET kind = excluded.kind,
                   slot_code = excluded.slot_code, home_slot = excluded.home_slot,
                   waybill = excluded.waybill, noted_at = excluded.noted_at,
                   noted_by = excluded.noted_by""",
            (audit_id, kind, slot, parcel, home_slot, waybill, iso(now), by))

    def problems(self, audit_id: int) -> list[Problem]:
        rows = self.db.execute("SELECT * FROM audit_problems WHERE audit_id = ? ORDER BY id",
                               (audit_id,)).fetchall()
        return [Problem(r["id"], r["kind"], r["slot_code"], r["parcel_id"], r["home_slot"],
                        r["waybill"]) for r in rows]


def _audit(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(row["id"], row["status"], row["slot_code"],
                       datetime.fromisoformat(row["started_at"]), row["started_by"])
