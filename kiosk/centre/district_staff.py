"""The district's own accounts, and reinforcement staff assigned to a compound for a period.

A district account (``district_admin``, ``district_staff``) belongs to no compound: it signs in
at any compound's site of the centre and reads there (``web.auth`` keeps district roles
read-only on a compound's pages) and at ``/district``. An assignment lends it a compound role
(gate, committee or property, with a team) in ONE compound from ``starts_at`` until
``ends_at``: while ``now`` is inside, that compound's site sees the account with that role
(``member_in``), so it acts there like the compound's own staff, and its deliveries and
hand-outs carry its name in that compound's events. At ``ends_at`` it is a district account
again, by itself; in any other compound it never was more.

A compound's usernames and the district's never share a name (checked here, and by
``kiosk.centre.store.CentreStaff.add``), so a sign-in always means one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import psycopg

from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.centre.gates import check_slug
from kiosk.errors import ShelfError
from kiosk.ports import StaffMember
from kiosk.staff import (
    DISTRICT_ROLES,
    TEAM_ROLES,
    InvalidStaff,
    StaffExists,
    UnknownStaff,
    _name,
    check_role,
    check_username,
)

ASSIGNABLE_ROLES = ("committee", "property", "gate")  # never admin: a compound's own accounts
DISTRICT = "district"  # centre_events.community_id of what the district itself did


class UnknownCommunity(ShelfError):
    """No compound of that id is known at the centre."""

    code = "unknown_community"


@dataclass(frozen=True)
class Assignment:
    """A district account lent to one compound, with a compound role, for [starts, ends)."""

    id: int
    username: str
    community: str
    role: str
    team: str | None
    starts_at: datetime
    ends_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The assignment for ``--json``: its times in UTC, however they were given."""
        return {"id": self.id, "username": self.username, "community": self.community,
                "role": self.role, "team": self.team,
                "from": self.starts_at.astimezone(UTC).isoformat(),
                "until": self.ends_at.astimezone(UTC).isoformat()}


def _member(row: dict[str, Any], role: str | None = None,
            team: str | None = None) -> StaffMember:
    return StaffMember(row["username"], row["name"], role or row["role"], team,
                       row["password_hash"], row["credential"], row["disabled"],
                       row["created_at"], row["updated_at"])


def district_account(conn: psycopg.Connection, username: str) -> dict[str, Any] | None:
    with unavailable_as_shelf_error():
        return conn.execute("SELECT * FROM district_staff WHERE lower(username) = lower(%s)",
                            (username,)).fetchone()


def live_assignment(conn: psycopg.Connection, community: str, username: str,
                    now: datetime) -> dict[str, Any] | None:
    """The assignment of ``username`` in ``community`` that holds at ``now`` (the newest)."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT * FROM assignments WHERE community_id = %s AND lower(username) = lower(%s)"
            " AND starts_at <= %s AND ends_at > %s ORDER BY id DESC LIMIT 1",
            (community, username, now, now)).fetchone()


def member_in(conn: psycopg.Connection, community: str, username: str,
              now: datetime) -> StaffMember | None:
    """The district account ``username`` as ``community``'s site sees it at ``now``: with the
    role of its assignment there while that holds, else with its district role."""
    account = district_account(conn, username)
    if account is None:
        return None
    lent = live_assignment(conn, community, account["username"], now)
    if lent is None:
        return _member(account)
    return _member(account, lent["role"], lent["team"])


def add_district_account(conn: psycopg.Connection, now: datetime, *, username: str,
                         name: str, role: str, password_hash: str,
                         actor: str) -> StaffMember:
    """Make a district account; its username must be free in the district and every
    compound (whatever the case)."""
    username = check_username(username)
    role = check_role(role, DISTRICT_ROLES)
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("LOCK TABLE district_staff IN SHARE ROW EXCLUSIVE MODE")
        taken = conn.execute(
            "SELECT 'district' AS where_ FROM district_staff WHERE lower(username) = lower(%s)"
            " UNION ALL SELECT community_id FROM staff WHERE lower(username) = lower(%s)"
            " LIMIT 1", (username, username)).fetchone()
        if taken is not None:
            raise StaffExists(f"the username {username!r} is taken ({taken['where_']}): "
                              "a district account needs a name no compound uses")
        row = conn.execute(
            "INSERT INTO district_staff (username, name, role, password_hash, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            (username, _name(name, username), role, password_hash, now, now)).fetchone()
        _district_event(conn, now, "district_staff_added", actor, username=username,
                        role=role)
    return _member(row)


def period(starts: str, ends: str, timezone: tzinfo) -> tuple[datetime, datetime]:
    """``--from D --until D`` as [start, end): a date is a whole day in ``timezone`` (until
    2022-04-30 ends at 05-01 00:00), an ISO time is that moment (in ``timezone`` unless it
    says its own)."""
    def moment(text: str, *, end: bool) -> datetime:
        text = text.strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            try:
                at = datetime.fromisoformat(text)
            except ValueError:
                raise InvalidStaff(f"{'until' if end else 'from'} {text[:40]!r}: a date "
                                   "(2022-04-30) or a time (2022-04-30T18:00)",
                                   reason="period") from None
            return at if at.tzinfo else at.replace(tzinfo=timezone)
        return datetime.combine(day + timedelta(days=1) if end else day, time(0), timezone)

    start, end = moment(starts, end=False), moment(ends, end=True)
    if end <= start:
        raise InvalidStaff(f"the period ends ({end.isoformat()}) before it starts "
                           f"({start.isoformat()})", reason="period")
    return start, end


def assign(conn: psycopg.Connection, now: datetime, *, username: str, community: str,
           role: str, team: str | None, starts_at: datetime, ends_at: datetime,
           actor: str) -> Assignment:
    """Lend a district account to ``community`` with ``role`` (and ``team``) for a period."""
    role = check_role(role, ASSIGNABLE_ROLES)
    team = (team or "").strip() or None
    if role in TEAM_ROLES:
        team = check_slug("team", team or role)
    elif team is not None:
        raise InvalidStaff(f"role {role} works for no team; leave the team out",
                           reason="no_team")
    with unavailable_as_shelf_error(), conn.transaction():
        account = district_account(conn, username.strip())
        if account is None:
            raise UnknownStaff(f"no district account {username.strip()[:40]!r}: make it first "
                               "with `shelf users add NAME --role district_staff`")
        known = conn.execute("SELECT 1 FROM communities WHERE id = %s",
                             (community,)).fetchone()
        if known is None:
            raise UnknownCommunity(f"there is no compound {community!r} at this centre")
        row = conn.execute(
            "INSERT INTO assignments (username, community_id, role, team, starts_at, ends_at,"
            " created_at, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (account["username"], community, role, team, starts_at, ends_at, now,
             actor[:200])).fetchone()
        centre_event(conn, community, None, now, "staff_assigned", actor,
                     username=account["username"], role=role, team=team,
                     starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat())
    return Assignment(row["id"], account["username"], community, role, team, starts_at,
                      ends_at)


def end_assignment(conn: psycopg.Connection, now: datetime, assignment_id: int, *,
                   actor: str) -> Assignment | None:
    """End a lending now: one running ends at ``now`` (the account acts there no more, from
    its next request; what it did there still counts for the team it served); one not yet
    begun is withdrawn (it served nowhere). None: no such assignment that has not ended."""
    with unavailable_as_shelf_error(), conn.transaction():
        row = conn.execute("SELECT * FROM assignments WHERE id = %s AND ends_at > %s"
                           " FOR UPDATE", (assignment_id, now)).fetchone()
        if row is None:
            return None
        if row["starts_at"] < now:
            conn.execute("UPDATE assignments SET ends_at = %s WHERE id = %s",
                         (now, assignment_id))
            kind, ends_at = "staff_assignment_ended", now
        else:
            conn.execute("DELETE FROM assignments WHERE id = %s", (assignment_id,))
            kind, ends_at = "staff_assignment_withdrawn", row["ends_at"]
        centre_event(conn, row["community_id"], None, now, kind, actor,
                     username=row["username"], assignment=assignment_id)
    return Assignment(row["id"], row["username"], row["community_id"], row["role"],
                      row["team"], row["starts_at"], ends_at)


def teams_served(conn: psycopg.Connection, start: datetime,
                 end: datetime) -> dict[tuple[str, str], str | None]:
    """(community, lower(username)) -> the team an assignment overlapping [start, end) gave:
    whom a reinforcement's hand-outs count for."""
    with unavailable_as_shelf_error():
        rows = conn.execute(
            "SELECT DISTINCT ON (community_id, lower(username)) community_id,"
            " lower(username) AS username, team FROM assignments WHERE starts_at < %s"
            " AND ends_at > %s ORDER BY community_id, lower(username), id DESC",
            (end, start)).fetchall()
    return {(r["community_id"], r["username"]): r["team"] for r in rows}


def _district_event(conn: psycopg.Connection, now: datetime, kind: str, actor: str,
                    **detail: object) -> None:
    # The district's own history rides in centre_events under no compound of its own.
    centre_event(conn, DISTRICT, None, now, kind, actor, **detail)


def live_assignments(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Every assignment holding at ``now``, with the account's name: who is lent where."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT a.id, a.username, s.name, a.community_id, a.role, a.team, a.starts_at,"
            " a.ends_at FROM assignments a JOIN district_staff s ON s.username = a.username"
            " WHERE a.starts_at <= %s AND a.ends_at > %s AND NOT s.disabled"
            " ORDER BY a.community_id, a.username", (now, now)).fetchall()


def district_accounts(conn: psycopg.Connection, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """``district``: the district's accounts (never a password's hash); ``assignments``: those
    not ended at ``now``, soonest first (`shelf users list --json` at the centre)."""
    with unavailable_as_shelf_error():
        accounts = conn.execute(
            "SELECT username, name, role, disabled, created_at, updated_at FROM district_staff"
            " ORDER BY lower(username)").fetchall()
        lent = conn.execute("SELECT * FROM assignments WHERE ends_at > %s"
                            " ORDER BY starts_at, id", (now,)).fetchall()
    return {
        "district": [{**a, "created_at": a["created_at"].isoformat(),
                      "updated_at": a["updated_at"].isoformat()} for a in accounts],
        "assignments": [Assignment(r["id"], r["username"], r["community_id"], r["role"],
                                   r["team"], r["starts_at"], r["ends_at"]).as_json()
                        for r in lent]}


def change_district_account(conn: psycopg.Connection, now: datetime, username: str, *,
                            actor: str, disabled: bool | None = None,
                            password_hash: str | None = None) -> StaffMember:
    """Disable or enable a district account, or give it a new password; a disable and a new
    password end its sessions at every compound's site (its credential moves on)."""
    with unavailable_as_shelf_error(), conn.transaction():
        account = conn.execute("SELECT * FROM district_staff WHERE lower(username) = lower(%s)"
                               " FOR UPDATE", (username.strip(),)).fetchone()
        if account is None:
            raise UnknownStaff(f"no district account {username.strip()[:40]!r}")
        ends = bool(disabled) and not account["disabled"] or password_hash is not None
        row = conn.execute(
            "UPDATE district_staff SET disabled = COALESCE(%s, disabled),"
            " password_hash = COALESCE(%s, password_hash), credential = credential + %s,"
            " updated_at = %s WHERE username = %s RETURNING *",
            (disabled, password_hash, int(ends), now, account["username"])).fetchone()
        if ends:
            conn.execute("UPDATE sessions SET ended_at = %s WHERE lower(username) = lower(%s)"
                         " AND ended_at IS NULL", (now, account["username"]))
        kind = ("district_staff_password_reset" if password_hash is not None else
                "district_staff_disabled" if disabled else "district_staff_enabled")
        _district_event(conn, now, kind, actor, username=account["username"])
    return _member(row)
