"""Parcels on the shelf, the pickup codes that open them, parcels announced and reminded of."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from kiosk.domain import Announcement, ParcelKind, ParcelRecord, ParcelStatus, PickupCode, SlotLoad
from kiosk.store.db import Db
from kiosk.timefmt import iso

# A withdrawn parcel's label ends so: "DS1:24-2304:SF1:MAC#undone-17" (Parcels.release_label).
UNDONE_MARK = "#undone-"


PARCEL_COLUMNS = ("id, label, ref, household_id, slot_code, status, pickup_code_id, kind,"
                   " room_confirmed, fresh, checked_in_at")


def parcel_record(row: sqlite3.Row) -> ParcelRecord:
    return ParcelRecord(row["id"], row["label"], row["ref"], row["household_id"],
                        row["slot_code"], ParcelStatus(row["status"]), row["pickup_code_id"],
                        ParcelKind(row["kind"]), bool(row["room_confirmed"]),
                        bool(row["fresh"]), datetime.fromisoformat(row["checked_in_at"]))


class Parcels:
    def __init__(self, db: Db) -> None:
        self.db = db

    def by_label(self, label: str) -> ParcelRecord | None:
        row = self.db.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE label = ?",
                                (label,)).fetchone()
        return parcel_record(row) if row else None

    def add(self, label: str, ref: str, household: str, slot: str, code_id: int | None,
            now: datetime, *, kind: ParcelKind = ParcelKind.SHELF, symbology: str | None = None,
            room_confirmed: bool = True, fresh: bool = False) -> int:
        cur = self.db.execute(
            """INSERT INTO parcels (label, ref, household_id, slot_code, status,
                                    pickup_code_id, checked_in_at, kind, symbology,
                                    room_confirmed, fresh)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (label, ref, household, slot, ParcelStatus.WAITING, code_id, iso(now), kind,
             symbology, int(room_confirmed), int(fresh)),
        )
        return int(cur.lastrowid)

    def waiting_for(self, household: str) -> list[ParcelRecord]:
        rows = self.db.execute(
            f"SELECT {PARCEL_COLUMNS} FROM parcels"
            " WHERE household_id = ? AND status = 'waiting' ORDER BY id", (household,)).fetchall()
        return [parcel_record(r) for r in rows]

    def unplaced(self, since: datetime) -> list[ParcelRecord]:
        """Waiting parcels checked in after ``since`` into a slot with a button that nobody has
        pressed for them yet, oldest first (through the unplaced-parcels index)."""
        rows = self.db.execute(
            f"""SELECT {PARCEL_COLUMNS} FROM parcels
                WHERE status = 'waiting' AND placed_at IS NULL AND checked_in_at > ?
                  AND slot_code IN (SELECT code FROM slots WHERE button = 1)
                ORDER BY checked_in_at, id""", (iso(since),)).fetchall()
        return [parcel_record(r) for r in rows]

    def place(self, parcel_id: int, now: datetime) -> None:
        """Record that the slot's button confirmed the parcel in it."""
        self.db.execute("UPDATE parcels SET placed_at = ? WHERE id = ? AND placed_at IS NULL",
                        (iso(now), parcel_id))

    def close(self, parcel_id: int, now: datetime) -> None:
        self.db.execute("UPDATE parcels SET status = ?, closed_at = ? WHERE id = ?",
                          (ParcelStatus.COLLECTED, iso(now), parcel_id))

    def load(self) -> dict[str, SlotLoad]:
        """How full each slot is now, from the waiting parcels."""
        rows = self.db.execute(
            "SELECT slot_code, COUNT(*) AS n, GROUP_CONCAT(DISTINCT household_id) AS hh"
            " FROM parcels WHERE status = 'waiting' GROUP BY slot_code").fetchall()
        return {r["slot_code"]: SlotLoad(r["n"], frozenset(r["hh"].split(","))) for r in rows}

    def get(self, parcel_id: int) -> ParcelRecord | None:
        row = self.db.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = ?",
                              (parcel_id,)).fetchone()
        return parcel_record(row) if row else None

    def move(self, parcel_id: int, slot: str) -> None:
        """Put a waiting parcel in another slot (a staff member carried it there)."""
        self.db.execute("UPDATE parcels SET slot_code = ? WHERE id = ? AND status = 'waiting'",
                        (slot, parcel_id))

    def end(self, parcel_id: int, status: ParcelStatus, now: datetime) -> None:
        """Take a waiting parcel off the shelf as ``status`` (returned, withdrawn, collected)."""
        self.db.execute("UPDATE parcels SET status = ?, closed_at = ? WHERE id = ?"
                        " AND status = 'waiting'", (status, iso(now), parcel_id))

    def release_label(self, parcel_id: int) -> None:
        """Free a withdrawn parcel's label for a new check-in (it keeps it with a suffix).

        The scanned label is unique among parcels; a check-in undone must not block the same
        label (or waybill) from checking in again, rightly this time.
        """
        self.db.execute("UPDATE parcels SET label = label || ? WHERE id = ?"
                        " AND status = 'withdrawn'", (f"{UNDONE_MARK}{parcel_id}", parcel_id))

    def confirm_room(self, parcel_id: int) -> None:
        self.db.execute("UPDATE parcels SET room_confirmed = 1 WHERE id = ?", (parcel_id,))

    def mark_fresh(self, parcel_id: int) -> None:
        self.db.execute("UPDATE parcels SET fresh = 1 WHERE id = ?", (parcel_id,))


def _pickup_code(row: sqlite3.Row) -> PickupCode:
    used, revoked = row["used_at"], row["revoked_at"]
    return PickupCode(row["id"], row["household_id"], row["code"],
                      datetime.fromisoformat(row["created_at"]),
                      datetime.fromisoformat(used) if used else None,
                      datetime.fromisoformat(revoked) if revoked else None,
                      row["revoked_reason"])


class PickupCodes:
    def __init__(self, db: Db) -> None:
        self.db = db

    def active_for(self, household: str) -> PickupCode | None:
        row = self.db.execute(
            "SELECT * FROM pickup_codes WHERE household_id = ? AND used_at IS NULL"
            " ORDER BY id DESC LIMIT 1", (household,)).fetchone()
        return _pickup_code(row) if row else None

    def get(self, code_id: int) -> PickupCode | None:
        row = self.db.execute("SELECT * FROM pickup_codes WHERE id = ?", (code_id,)).fetchone()
        return _pickup_code(row) if row else None

    def with_code(self, code: str, limit: int = 2) -> list[PickupCode]:
        """The newest rows (at most ``limit``) that ever held ``code``, active or used."""
        rows = self.db.execute("SELECT * FROM pickup_codes WHERE code = ? ORDER BY id DESC"
                               " LIMIT ?", (code, limit)).fetchall()
        return [_pickup_code(r) for r in rows]

    def used_since(self, code: str, since: datetime) -> bool:
        """True when ``code`` opened someone's parcels at or after ``since``."""
        row = self.db.execute("SELECT 1 FROM pickup_codes WHERE code = ? AND used_at >= ?"
                              " LIMIT 1", (code, iso(since))).fetchone()
        return row is not None

    def find_active(self, code: str) -> PickupCode | None:
        row = self.db.execute(
            "SELECT * FROM pickup_codes WHERE code = ? AND used_at IS NULL", (code,)).fetchone()
        return _pickup_code(row) if row else None

    def active_count(self) -> int:
        """How many codes are active: what a code typed alone is checked against."""
        # COUNT(household_id), not COUNT(*): counted in the partial index of the active codes
        # (pickup_codes_household, migration 2), not in pickup_codes_by_code's every code ever.
        return self.db.execute(
            "SELECT COUNT(household_id) FROM pickup_codes WHERE used_at IS NULL").fetchone()[0]

    def add(self, household: str, code: str, now: datetime) -> PickupCode | None:
        """Store a new active code; None when that code is already active for someone."""
        try:
            cur = self.db.execute(
                "INSERT INTO pickup_codes (household_id, code, created_at) VALUES (?, ?, ?)",
                (household, code, iso(now)))
        except sqlite3.IntegrityError:
            return None
        return PickupCode(int(cur.lastrowid), household, code, now)

    def use(self, code_id: int, now: datetime) -> None:
        self.db.execute("UPDATE pickup_codes SET used_at = ? WHERE id = ?", (iso(now), code_id))

    def revoke(self, code_id: int, now: datetime, reason: str | None = None) -> None:
        """Withdraw an active code: it opens nothing any more (and is not drawn again soon).

        ``reason`` None: its household went under observation; else a staff action's.
        """
        self.db.execute("UPDATE pickup_codes SET used_at = ?, revoked_at = ?, revoked_reason = ?"
                        " WHERE id = ? AND used_at IS NULL", (iso(now), iso(now), reason, code_id))


def _announcement(row: sqlite3.Row) -> Announcement:
    used = row["used_at"]
    return Announcement(row["code"], row["household_id"], row["announced_by"],
                        datetime.fromisoformat(row["announced_at"]),
                        datetime.fromisoformat(used) if used else None, row["parcel_id"],
                        bool(row["fresh"]))


class Expected:
    """Parcels announced by their tracking number: the gate asks the courier to confirm one."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def get(self, code: str) -> Announcement | None:
        row = self.db.execute("SELECT * FROM expected WHERE code = ?", (code,)).fetchone()
        return _announcement(row) if row else None

    def add(self, announcement: Announcement) -> None:
        a = announcement
        self.db.execute(
            "INSERT INTO expected (code, household_id, announced_by, announced_at, used_at,"
            " parcel_id, fresh) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (a.code, a.household_id, a.announced_by, iso(a.announced_at),
             a.used_at and iso(a.used_at), a.parcel_id, int(a.fresh)))

    def mark_fresh(self, code: str) -> None:
        self.db.execute("UPDATE expected SET fresh = 1 WHERE code = ?", (code,))

    def use(self, code: str, parcel_id: int, now: datetime) -> None:
        self.db.execute("UPDATE expected SET used_at = ?, parcel_id = ? WHERE code = ?",
                        (iso(now), parcel_id, code))

    def remove(self, code: str) -> None:
        self.db.execute("DELETE FROM expected WHERE code = ?", (code,))


class Reminders:
    """What was said about parcels still waiting (``kiosk.notices.reminders``)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def waiting_since(self, before: datetime) -> list[ParcelRecord]:
        rows = self.db.execute(
            f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE status = 'waiting'"
            " AND checked_in_at <= ? ORDER BY id", (iso(before),)).fetchall()
        return [parcel_record(r) for r in rows]

    def said(self, parcels: Iterable[int]) -> set[tuple[int, str]]:
        wanted = list(dict.fromkeys(parcels))
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            f"SELECT parcel_id, round FROM reminders WHERE parcel_id IN ({marks})", wanted)
        return {(r["parcel_id"], r["round"]) for r in rows}

    def add(self, parcel: int, round: str, household: str, now: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO reminders (parcel_id, round, household_id, at)"
                        " VALUES (?, ?, ?, ?)", (parcel, round, household, iso(now)))
