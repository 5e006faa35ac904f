"""Staff accounts, their sign-in sessions and lockouts, and throttled attempts at guesses."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.ports import StaffMember
from kiosk.store.db import Db
from kiosk.timefmt import iso


def _staff_member(row: sqlite3.Row) -> StaffMember:
    return StaffMember(row["username"], row["name"], row["role"], row["team"],
                       row["password_hash"], row["credential"], bool(row["disabled"]),
                       datetime.fromisoformat(row["created_at"]),
                       datetime.fromisoformat(row["updated_at"]))


class StaffAccounts:
    """Staff accounts (``kiosk.staff`` changes them, each change with its event)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def get(self, username: str) -> StaffMember | None:
        row = self.db.execute("SELECT * FROM staff WHERE username = ?", (username,)).fetchone()
        return _staff_member(row) if row else None

    def all(self) -> list[StaffMember]:
        rows = self.db.execute("SELECT * FROM staff ORDER BY username").fetchall()
        return [_staff_member(row) for row in rows]

    def add(self, member: StaffMember) -> None:
        self.db.execute(
            "INSERT INTO staff (username, name, role, team, password_hash, credential, disabled,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (member.username, member.name, member.role, member.team, member.password_hash,
             member.credential, int(member.disabled), iso(member.created_at),
             iso(member.updated_at)))

    def update(self, member: StaffMember) -> None:
        self.db.execute(
            "UPDATE staff SET name = ?, role = ?, team = ?, password_hash = ?, credential = ?,"
            " disabled = ?, updated_at = ? WHERE username = ?",
            (member.name, member.role, member.team, member.password_hash, member.credential,
             int(member.disabled), iso(member.updated_at), member.username))

    def enabled_admins(self) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM staff WHERE role = 'admin' AND disabled = 0").fetchone()[0]


@dataclass(frozen=True)
class StaffSession:
    """One staff sign-in, as the store keeps it (``key`` is a hash of the cookie's token)."""

    key: str
    username: str
    credential: str
    created_at: datetime
    last_seen: datetime
    ended_at: datetime | None


class Sessions:
    """Staff sign-in sessions: a cookie signs someone in only while its row is live."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, key: str, username: str, credential: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO sessions (id, username, credential, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?)", (key, username, credential, iso(now), iso(now)))

    def get(self, key: str) -> StaffSession | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (key,)).fetchone()
        if row is None:
            return None
        ended = row["ended_at"]
        return StaffSession(row["id"], row["username"], row["credential"],
                            datetime.fromisoformat(row["created_at"]),
                            datetime.fromisoformat(row["last_seen"]),
                            datetime.fromisoformat(ended) if ended else None)

    def touch(self, key: str, now: datetime) -> None:
        self.db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (iso(now), key))

    def end(self, key: str, now: datetime) -> None:
        self.db.execute("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                        (iso(now), key))

    def end_for(self, username: str, now: datetime) -> int:
        """End every live session of ``username`` (a disable, a password reset)."""
        return self.db.execute(
            "UPDATE sessions SET ended_at = ? WHERE username = ? COLLATE NOCASE"
            " AND ended_at IS NULL", (iso(now), username)).rowcount

    def prune(self, created_before: datetime, seen_before: datetime) -> int:
        """Delete the sessions that can no longer sign anyone in."""
        cur = self.db.execute(
            "DELETE FROM sessions WHERE ended_at IS NOT NULL OR created_at < ? OR last_seen < ?",
            (iso(created_before), iso(seen_before)))
        return cur.rowcount


@dataclass(frozen=True)
class Lockout:
    """Sign-ins refused to ``username`` (None: every username) from ``client`` until ``until``."""

    at: datetime
    until: datetime
    username: str | None
    client: str


class Lockouts:
    """The record of sign-in lockouts, for admins to see who is being kept out."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, username: str | None, client: str, now: datetime,
            until: datetime) -> None:
        self.db.execute("INSERT INTO lockouts (at, until, username, client) VALUES (?, ?, ?, ?)",
                        (iso(now), iso(until), username, client))

    def active(self, username: str | None, client: str, now: datetime) -> bool:
        return self.db.execute(
            "SELECT 1 FROM lockouts WHERE client = ? AND username IS ? AND until > ?",
            (client, username, iso(now))).fetchone() is not None

    def since(self, moment: datetime, limit: int = 100) -> list[Lockout]:
        """The latest lockouts from ``moment`` on, newest first."""
        rows = self.db.execute(
            "SELECT at, until, username, client FROM lockouts WHERE at >= ?"
            " ORDER BY at DESC, id DESC LIMIT ?", (iso(moment), limit)).fetchall()
        return [Lockout(datetime.fromisoformat(r["at"]), datetime.fromisoformat(r["until"]),
                        r["username"], r["client"]) for r in rows]

    def prune(self, before: datetime) -> int:
        return self.db.execute("DELETE FROM lockouts WHERE at < ?", (iso(before),)).rowcount


class Attempts:
    """Tries at something guessable (a pickup code, a password), for throttling."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, source: str, ok: bool, now: datetime) -> None:
        self.db.execute("INSERT INTO attempts (at, source, ok) VALUES (?, ?, ?)",
                          (iso(now), source, int(ok)))

    def wait_needed(self, source: str, max_failures: int, window: timedelta,
                    now: datetime) -> int:
        """Seconds ``source`` must wait before trying again (0: it may try now).

        A source that failed ``max_failures`` times within ``window`` waits until the oldest
        of those failures leaves the window.
        """
        rows = self.db.execute(
            "SELECT at FROM attempts WHERE source = ? AND ok = 0 AND at >= ? ORDER BY at",
            (source, iso(now - window))).fetchall()
        if len(rows) < max_failures:
            return 0
        oldest = datetime.fromisoformat(rows[-max_failures]["at"])
        return max(1, math.ceil((oldest + window - now).total_seconds()))

    def failures(self, source: str, since: datetime, limit: int) -> list[datetime]:
        """When ``source`` failed at or after ``since``: the newest ``limit``, newest first."""
        rows = self.db.execute(
            "SELECT at FROM attempts WHERE source = ? AND ok = 0 AND at >= ?"
            " ORDER BY at DESC LIMIT ?", (source, iso(since), limit)).fetchall()
        return [datetime.fromisoformat(r["at"]) for r in rows]

    def prune(self, prefix: str, before: datetime) -> int:
        """Forget the attempts of sources starting with ``prefix`` made before ``before``."""
        # A range of sources on the (source, at) index: only this prefix's rows are read,
        # however many other attempts (or years of them) the table holds.
        after_prefix = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        cur = self.db.execute(
            "DELETE FROM attempts WHERE source >= ? AND source < ? AND at < ?",
            (prefix, after_prefix, iso(before)))
        return cur.rowcount
