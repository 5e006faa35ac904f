"""Door tasks: a household's waiting parcels carried to its door (``kiosk.tasks``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from kiosk.domain import DoorTask, ParcelRecord, TaskStatus
from kiosk.store.db import Db
from kiosk.store.parcels import parcel_record
from kiosk.timefmt import iso


def _door_task(row: sqlite3.Row) -> DoorTask:
    def moment(key: str) -> datetime | None:
        return datetime.fromisoformat(row[key]) if row[key] else None

    return DoorTask(row["id"], row["household_id"], row["team"], TaskStatus(row["status"]),
                    datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["assigned_at"]), moment("fresh_since"),
                    row["escalations"], moment("closed_at"), row["closed_by"],
                    row["closed_reason"], moment("told_at"))


class DoorTasks:
    """Door tasks: a household's waiting parcels to carry to its door (``kiosk.tasks``)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def get(self, task_id: int) -> DoorTask | None:
        row = self.db.execute("SELECT * FROM door_tasks WHERE id = ?", (task_id,)).fetchone()
        return _door_task(row) if row else None

    def open_for(self, household: str) -> DoorTask | None:
        """The household's open task, if it has one (it never has two)."""
        row = self.db.execute("SELECT * FROM door_tasks WHERE household_id = ?"
                              " AND status = 'open'", (household,)).fetchone()
        return _door_task(row) if row else None

    def open(self) -> list[DoorTask]:
        """Every open task, oldest first (through the open tasks' index)."""
        rows = self.db.execute("SELECT * FROM door_tasks WHERE status = 'open' ORDER BY id")
        return [_door_task(r) for r in rows]

    def add(self, household: str, team: str, now: datetime, *, fresh: bool = False) -> int:
        cur = self.db.execute(
            "INSERT INTO door_tasks (household_id, team, created_at, assigned_at, fresh_since)"
            " VALUES (?, ?, ?, ?, ?)",
            (household, team, iso(now), iso(now), iso(now) if fresh else None))
        return int(cur.lastrowid)

    def link(self, task_id: int, parcel_id: int) -> None:
        self.db.execute("INSERT INTO door_task_parcels (task_id, parcel_id) VALUES (?, ?)",
                        (task_id, parcel_id))

    def parcels(self, task_id: int) -> list[ParcelRecord]:
        """The task's parcels, oldest first, whatever their status."""
        rows = self.db.execute(
            "SELECT p.* FROM door_task_parcels t JOIN parcels p ON p.id = t.parcel_id"
            " WHERE t.task_id = ? ORDER BY p.id", (task_id,)).fetchall()
        return [parcel_record(r) for r in rows]

    def assign(self, task_id: int, team: str, now: datetime) -> None:
        self.db.execute("UPDATE door_tasks SET team = ?, assigned_at = ? WHERE id = ?",
                        (team, iso(now), task_id))

    def mark_fresh(self, task_id: int, now: datetime) -> None:
        """Fresh from ``now`` on (a task fresh already keeps its first time)."""
        self.db.execute("UPDATE door_tasks SET fresh_since = COALESCE(fresh_since, ?)"
                        " WHERE id = ?", (iso(now), task_id))

    def escalate(self, task_id: int, level: int) -> None:
        self.db.execute("UPDATE door_tasks SET escalations = ? WHERE id = ?", (level, task_id))

    def untold(self) -> list[DoorTask]:
        """Open tasks no team has been told of yet, oldest first."""
        rows = self.db.execute("SELECT * FROM door_tasks WHERE status = 'open'"
                               " AND told_at IS NULL ORDER BY id")
        return [_door_task(r) for r in rows]

    def mark_told(self, task_ids: Iterable[int], now: datetime) -> None:
        """Told from ``now`` on (a task told already keeps its first time)."""
        for task_id in task_ids:
            self.db.execute("UPDATE door_tasks SET told_at = COALESCE(told_at, ?) WHERE id = ?",
                            (iso(now), task_id))

    def close(self, task_id: int, status: TaskStatus, now: datetime, actor: str,
              reason: str | None = None) -> None:
        self.db.execute(
            "UPDATE door_tasks SET status = ?, closed_at = ?, closed_by = ?, closed_reason = ?"
            " WHERE id = ? AND status = 'open'", (status, iso(now), actor[:200], reason, task_id))
