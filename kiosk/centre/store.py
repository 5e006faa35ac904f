"""The centre's own facts behind the store's ports: households and staff accounts, their
sign-in sessions, lockouts and attempts, each scoped to one community.

``CentreUnitOfWork(conn, community)`` is the UnitOfWork port on the centre's PostgreSQL for
what the centre owns: ``with uow:`` is one transaction (entered again inside, it joins it).
The household import and the observation list read the household list through it, and the
staff site (``web.auth``) signs the compound's staff in through it. What gates own (parcels,
tasks) is not here: the centre holds only the gates' copies of those (``intake``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import psycopg

from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.domain import Household, HouseholdId
from kiosk.ports import StaffMember
from kiosk.store.staff import Lockout, StaffSession


class _Scoped:
    """A repository of one community's rows: every statement names the community."""

    def __init__(self, conn: psycopg.Connection, community: str) -> None:
        self.conn, self.community = conn, community

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run ``sql`` whose first parameter is the community, then ``args``."""
        with unavailable_as_shelf_error():
            return self.conn.execute(sql, (self.community, *args)).fetchall()

    def _run(self, sql: str, *args: Any) -> int:
        """Run ``sql`` with exactly ``args`` (the community among them where it belongs)."""
        with unavailable_as_shelf_error():
            return self.conn.execute(sql, args).rowcount


def _household(row: dict[str, Any]) -> Household:
    return Household(HouseholdId(row["building"], row["room"]), row["name"], row["phone"],
                     row["email"], row["under_observation"])


class CentreHouseholds(_Scoped):
    """The compound's household list (the centre owns it; gates get it as commands)."""

    def get(self, household: HouseholdId) -> Household | None:
        rows = self._rows("SELECT * FROM households WHERE community_id = %s AND id = %s",
                          str(household))
        return _household(rows[0]) if rows else None

    def all(self) -> list[Household]:
        return [_household(r) for r in self._rows(
            "SELECT * FROM households WHERE community_id = %s ORDER BY building, room")]

    def in_building(self, building: int) -> list[Household]:
        return [_household(r) for r in self._rows(
            "SELECT * FROM households WHERE community_id = %s AND building = %s ORDER BY room",
            building)]

    def upsert(self, household: Household, now: datetime) -> str:
        old = self.get(household.id)
        if old == household:
            return "same"
        h = household
        self._run("INSERT INTO households (community_id, id, building, room, name, phone, email,"
                  " under_observation, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                  " ON CONFLICT (community_id, id) DO UPDATE SET name = EXCLUDED.name,"
                  " phone = EXCLUDED.phone, email = EXCLUDED.email,"
                  " under_observation = EXCLUDED.under_observation,"
                  " updated_at = EXCLUDED.updated_at", self.community,
                  str(h.id), h.id.building, h.id.room, h.name, h.phone, h.email,
                  h.under_observation, now)
        return "added" if old is None else "changed"

    def keep_file(self, sha256: str, name: str, data: bytes, now: datetime, actor: str,
                  kind: str = "households") -> None:
        self._run("INSERT INTO list_files (community_id, sha256, kind, name, data, stored_at,"
                  " stored_by) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                  self.community, sha256, kind, name, data, now, actor)


def _member(row: dict[str, Any]) -> StaffMember:
    return StaffMember(row["username"], row["name"], row["role"], row["team"],
                       row["password_hash"], row["credential"], row["disabled"],
                       row["created_at"], row["updated_at"])


class CentreStaff(_Scoped):
    """The compound's staff accounts (a username is found whatever its case)."""

    def get(self, username: str) -> StaffMember | None:
        rows = self._rows("SELECT * FROM staff WHERE community_id = %s"
                          " AND lower(username) = lower(%s)", username)
        return _member(rows[0]) if rows else None

    def all(self) -> list[StaffMember]:
        return [_member(r) for r in self._rows(
            "SELECT * FROM staff WHERE community_id = %s ORDER BY lower(username)")]

    def add(self, member: StaffMember) -> None:
        m = member
        self._run("INSERT INTO staff (community_id, username, name, role, team, password_hash,"
                  " credential, disabled, created_at, updated_at) VALUES (%s, %s, %s, %s, %s,"
                  " %s, %s, %s, %s, %s)", self.community, m.username, m.name, m.role, m.team,
                  m.password_hash, m.credential, m.disabled, m.created_at, m.updated_at)

    def update(self, member: StaffMember) -> None:
        m = member
        self._run("UPDATE staff SET name = %s, role = %s, team = %s, password_hash = %s,"
                  " credential = %s, disabled = %s, updated_at = %s WHERE community_id = %s"
                  " AND lower(username) = lower(%s)", m.name, m.role, m.team, m.password_hash,
                  m.credential, m.disabled, m.updated_at, self.community, m.username)

    def enabled_admins(self) -> int:
        return self._rows("SELECT count(*) AS n FROM staff WHERE community_id = %s"
                          " AND role = 'admin' AND NOT disabled")[0]["n"]


class CentreSessions(_Scoped):
    """Staff sign-ins at the centre's site: a cookie signs in only while its row is live."""

    def add(self, key: str, username: str, credential: str, now: datetime) -> None:
        self._run("INSERT INTO sessions (community_id, id, username, credential, created_at,"
                  " last_seen) VALUES (%s, %s, %s, %s, %s, %s)", self.community, key, username,
                  credential, now, now)

    def get(self, key: str) -> StaffSession | None:
        rows = self._rows("SELECT * FROM sessions WHERE community_id = %s AND id = %s", key)
        if not rows:
            return None
        r = rows[0]
        return StaffSession(r["id"], r["username"], r["credential"], r["created_at"],
                            r["last_seen"], r["ended_at"])

    def touch(self, key: str, now: datetime) -> None:
        self._run("UPDATE sessions SET last_seen = %s WHERE community_id = %s AND id = %s",
                  now, self.community, key)

    def end(self, key: str, now: datetime) -> None:
        self._run("UPDATE sessions SET ended_at = %s WHERE community_id = %s AND id = %s"
                  " AND ended_at IS NULL", now, self.community, key)

    def end_for(self, username: str, now: datetime) -> int:
        return self._run("UPDATE sessions SET ended_at = %s WHERE community_id = %s"
                         " AND lower(username) = lower(%s) AND ended_at IS NULL", now,
                         self.community, username)

    def prune(self, created_before: datetime, seen_before: datetime) -> int:
        return self._run("DELETE FROM sessions WHERE community_id = %s AND (ended_at IS NOT"
                         " NULL OR created_at < %s OR last_seen < %s)", self.community,
                         created_before, seen_before)


class CentreLockouts(_Scoped):
    """Sign-in lockouts at the centre's site, for its admins."""

    def add(self, username: str | None, client: str, now: datetime, until: datetime) -> None:
        self._run("INSERT INTO lockouts (community_id, at, until, username, client)"
                  " VALUES (%s, %s, %s, %s, %s)", self.community, now, until, username, client)

    def active(self, username: str | None, client: str, now: datetime) -> bool:
        return bool(self._rows("SELECT 1 FROM lockouts WHERE community_id = %s AND client = %s"
                               " AND username IS NOT DISTINCT FROM %s AND until > %s", client,
                               username, now))

    def since(self, moment: datetime, limit: int = 100) -> list[Lockout]:
        rows = self._rows("SELECT at, until, username, client FROM lockouts WHERE"
                          " community_id = %s AND at >= %s ORDER BY at DESC, id DESC LIMIT %s",
                          moment, limit)
        return [Lockout(r["at"], r["until"], r["username"], r["client"]) for r in rows]

    def prune(self, before: datetime) -> int:
        return self._run("DELETE FROM lockouts WHERE community_id = %s AND at < %s",
                         self.community, before)


class CentreAttempts(_Scoped):
    """Sign-in guesses at the centre's site, for throttling (``kiosk.store.staff.Attempts``)."""

    def add(self, source: str, ok: bool, now: datetime) -> None:
        self._run("INSERT INTO attempts (community_id, at, source, ok) VALUES (%s, %s, %s, %s)",
                  self.community, now, source, ok)

    def wait_needed(self, source: str, max_failures: int, window: timedelta,
                    now: datetime) -> int:
        rows = self._rows("SELECT at FROM attempts WHERE community_id = %s AND source = %s"
                          " AND NOT ok AND at >= %s ORDER BY at", source, now - window)
        if len(rows) < max_failures:
            return 0
        oldest = rows[-max_failures]["at"]
        return max(1, math.ceil((oldest + window - now).total_seconds()))

    def prune(self, prefix: str, before: datetime) -> int:
        return self._run("DELETE FROM attempts WHERE community_id = %s AND starts_with(source,"
                         " %s) AND at < %s", self.community, prefix, before)


class CentreEvents(_Scoped):
    """The centre's own history (``centre_events``), as the use cases record events."""

    def add(self, kind: str, actor: str, now: datetime, *, parcel: int | None = None,
            household: str | None = None, slot: str | None = None, **detail: Any) -> None:
        centre_event(self.conn, self.community, None, now, kind, actor, household=household,
                     **detail)


class CentreUnitOfWork:
    """The UnitOfWork port on the centre, for one community: ``with uow:`` is a transaction."""

    def __init__(self, conn: psycopg.Connection, community: str) -> None:
        self.conn, self.community = conn, community
        self.households = CentreHouseholds(conn, community)
        self.staff = CentreStaff(conn, community)
        self.sessions = CentreSessions(conn, community)
        self.lockouts = CentreLockouts(conn, community)
        self.attempts = CentreAttempts(conn, community)
        self.events = CentreEvents(conn, community)
        self._transaction: Any = None
        self._depth = 0

    def __enter__(self) -> CentreUnitOfWork:
        if self._depth == 0:
            with unavailable_as_shelf_error():
                self._transaction = self.conn.transaction()
                self._transaction.__enter__()
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth:
            return  # an inner use case: the outermost one commits or rolls back
        transaction, self._transaction = self._transaction, None
        with unavailable_as_shelf_error():
            transaction.__exit__(exc_type, exc, tb)
