"""Households and the observation register (the day's lists as received and applied)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

from kiosk.domain import Household, HouseholdId
from kiosk.ports import AppliedList, ListFile
from kiosk.store.db import Db
from kiosk.timefmt import iso


class UploadedFiles:
    """Lists as received (one table per kind of list), by SHA-256; deleted after a while, the
    row kept (migration 21)."""

    def __init__(self, db: Db, table: str) -> None:
        self.db, self.table = db, table  # household_files, observation_files: the same columns

    def keep(self, sha256: str, name: str, data: bytes, reading: str | None, now: datetime,
             actor: str) -> None:
        """Keep a list's bytes and reading; the same bytes again count their days from now."""
        self.db.execute(
            f"INSERT INTO {self.table} (sha256, name, data, reading, stored_at, stored_by)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET"
            " data = excluded.data, reading = COALESCE(excluded.reading, reading),"
            " stored_at = excluded.stored_at, deleted_at = NULL",
            (sha256, name, data, reading, iso(now), actor))

    def get(self, sha256: str) -> ListFile | None:
        row = self.db.execute(f"SELECT sha256, name, data, reading, deleted_at FROM {self.table}"
                              " WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        return ListFile(row["sha256"], row["name"],
                        None if row["data"] is None else bytes(row["data"]), row["reading"],
                        datetime.fromisoformat(row["deleted_at"]) if row["deleted_at"] else None)

    def prune(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete the bytes and reading of at most ``limit`` lists kept since before ``before``,
        oldest first, through the index of those kept."""
        cur = self.db.execute(
            f"UPDATE {self.table} SET data = NULL, reading = NULL, deleted_at = ?"
            f" WHERE sha256 IN (SELECT sha256 FROM {self.table} WHERE data IS NOT NULL"
            " AND stored_at < ? ORDER BY stored_at LIMIT ?)", (iso(now), iso(before), limit))
        return cur.rowcount


class Households:
    """The households, and the household lists uploaded on the staff site (their files)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.files = UploadedFiles(db, "household_files")

    def get(self, household: HouseholdId) -> Household | None:
        row = self.db.execute("SELECT * FROM households WHERE id = ?",
                                (str(household),)).fetchone()
        return _household(row) if row else None

    def all(self) -> list[Household]:
        rows = self.db.execute("SELECT * FROM households ORDER BY building, room").fetchall()
        return [_household(r) for r in rows]

    def in_building(self, building: int) -> list[Household]:
        """Every household of one building (a typed room is checked against its neighbours)."""
        rows = self.db.execute("SELECT * FROM households WHERE building = ? ORDER BY room",
                               (building,)).fetchall()
        return [_household(r) for r in rows]

    def upsert(self, household: Household, now: datetime) -> str:
        """Insert or update; return 'added', 'changed' or 'same'."""
        old = self.get(household.id)
        if old == household:
            return "same"
        self.db.execute(
            """INSERT INTO households (id, building, room, name, phone, email,
                                       under_observation, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
                   email = excluded.email, under_observation = excluded.under_observation,
                   updated_at = excluded.updated_at""",
            (str(household.id), household.id.building, household.id.room, household.name,
             household.phone, household.email, int(household.under_observation), iso(now)),
        )
        return "added" if old is None else "changed"


def _household(row: sqlite3.Row) -> Household:
    return Household(
        id=HouseholdId(row["building"], row["room"]),
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        under_observation=bool(row["under_observation"]),
    )


def _applied_list(row: sqlite3.Row) -> AppliedList:
    return AppliedList(
        id=row["id"], applied_at=datetime.fromisoformat(row["applied_at"]), actor=row["actor"],
        list_date=date.fromisoformat(row["list_date"]), source=row["source"],
        file_name=row["file_name"], sha256=row["sha256"], format=row["format"],
        added=row["added"], released=row["released"], unchanged=row["unchanged"],
        unknown=row["unknown"], problems=row["problems"])


class ObservationRegister:
    """The day's observation lists: their files as received, and each list applied."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.files = UploadedFiles(db, "observation_files")

    def add(self, entry: AppliedList) -> int:
        """Record a list as applied; return its id in the register (``entry.id`` is ignored)."""
        e = entry
        cur = self.db.execute(
            """INSERT INTO observation_lists (applied_at, actor, list_date, source, file_name,
                   sha256, format, added, released, unchanged, unknown, problems)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (iso(e.applied_at), e.actor, e.list_date.isoformat(), e.source, e.file_name,
             e.sha256, e.format, e.added, e.released, e.unchanged, e.unknown, e.problems))
        return int(cur.lastrowid)

    def last_applied(self, sha256: str, list_date: date, source: str) -> AppliedList | None:
        """The latest time these bytes were applied as this day's list from this source."""
        row = self.db.execute(
            "SELECT * FROM observation_lists WHERE sha256 = ? AND list_date = ? AND source = ?"
            " ORDER BY id DESC LIMIT 1", (sha256, list_date.isoformat(), source)).fetchone()
        return _applied_list(row) if row else None
