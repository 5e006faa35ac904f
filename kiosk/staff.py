"""Staff accounts: who may sign in to the staff site, with which role, for which team.

Roles: ``admin`` (everything, the accounts too), ``committee`` and ``property`` (a day's work,
for their team: a ``[[teams]]`` id), ``gate`` (reads, never changes anything). Every change is
an event naming who made it (``actor``); a disable and a password reset end the account's
sessions in the same transaction.

The use cases take password hashes, never passwords: hashing is slow on purpose and must never
run inside a write transaction (``kiosk.passwords`` makes them, outside).

The config's ``[[web.users]]`` were the accounts before: ``import_config_users`` copies those
the store does not know yet (their PBKDF2 hashes still verify, and are replaced by argon2 at
the next sign-in); a username the store knows is never read from the config again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kiosk.config import Config, User, role_named, roles_allowed
from kiosk.errors import ShelfError, StoreUnavailable
from kiosk.passwords import MIN_PASSWORD, is_password_hash
from kiosk.ports import StaffMember, UnitOfWork

ROLES = ("admin", "committee", "property", "gate")
TEAM_ROLES = ("committee", "property")  # roles that work for a team
STAFF_ROLES = ("admin", "committee", "property")  # roles that may change things
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MAX_NAME = 60
MAX_PASSWORD = 1024
CONFIG_ACTOR = "config@import"

log = logging.getLogger(__name__)


class StaffError(ShelfError):
    """A change to the staff accounts was refused."""

    code = "staff"


class UnknownStaff(StaffError):
    """No account has this username."""

    code = "unknown_staff"


class StaffExists(StaffError):
    """An account with this username (in any case) exists already."""

    code = "staff_exists"


class InvalidStaff(StaffError):
    """A username, role, team or password that an account cannot have (``reason``: which)."""

    code = "invalid_staff"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # username, password_short, password_long, role, no_team, team


class LastAdmin(StaffError):
    """Disabling or demoting this account would leave no administrator to manage the others."""

    code = "last_admin"

    def __init__(self, message: str, *, reason: str = "last_admin") -> None:
        super().__init__(message)
        self.reason = reason  # last_admin (a disable), last_admin_role (a role change)


def check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise InvalidStaff(f"username {username[:40]!r}: use 1-32 letters, digits, '.', '_' or "
                           "'-', starting with a letter or digit, e.g. li.wei",
                           reason="username")
    return username


def check_password_text(password: str) -> str:
    """The password as given, if long enough to be one; hash it outside any transaction."""
    if len(password) < MIN_PASSWORD:
        raise InvalidStaff(f"a staff password needs at least {MIN_PASSWORD} characters",
                           reason="password_short")
    if len(password) > MAX_PASSWORD:
        raise InvalidStaff(f"a staff password has at most {MAX_PASSWORD} characters",
                           reason="password_long")
    return password


def check_role(text: str) -> str:
    """The role ``text`` names: its id (``committee``) or its Chinese name (``居委会``)."""
    role = role_named(text, ROLES)
    if role is None:
        raise InvalidStaff(f"role {text.strip()!r}: allowed roles are {roles_allowed(ROLES)}",
                           reason="role")
    return role


def team_for(role: str, team: str | None, teams: Collection[str]) -> str | None:
    """The team an account of ``role`` works for: ``team``, or the team named like the role.

    Committee and property staff belong to a configured team (the sample's teams are called
    ``committee`` and ``property``, so the role names it); admins and the gate to none.
    """
    role = check_role(role)
    team = (team or "").strip() or None
    if role not in TEAM_ROLES:
        if team is not None:
            raise InvalidStaff(f"role {role} works for no team; leave the team out",
                               reason="no_team")
        return None
    if team is None and role in teams:
        return role
    if team not in teams:
        known = ", ".join(sorted(teams)) or "none configured"
        raise InvalidStaff(f"role {role} needs a team from [[teams]]: {known}"
                           + (f" (not {team!r})" if team else ""), reason="team")
    return team


def _name(name: str, username: str) -> str:
    shown = " ".join(name.split())[:MAX_NAME]
    return shown or username


def _detail(member: StaffMember) -> dict[str, Any]:
    return {"username": member.username, "name": member.name, "role": member.role,
            "team": member.team}


def _get(uow: UnitOfWork, username: str) -> StaffMember:
    found = uow.staff.get(username.strip())
    if found is None:
        raise UnknownStaff(f"no staff account {username.strip()[:40]!r}; see `shelf users list`")
    return found


def add_staff(uow: UnitOfWork, now: datetime, *, username: str, name: str, role: str,
              team: str | None, password_hash: str, actor: str, teams: Collection[str],
              kind: str = "staff_added") -> StaffMember:
    """Create an account; refuse a username taken in any case, a bad role or team."""
    username = check_username(username)
    role = check_role(role)
    member = StaffMember(username, _name(name, username), role, team_for(role, team, teams),
                         password_hash, 1, False, now, now)
    with uow:
        if uow.staff.get(username) is not None:
            raise StaffExists(f"staff account {username!r} exists already")
        uow.staff.add(member)
        uow.events.add(kind, actor, now, **_detail(member))
    return member


def disable_staff(uow: UnitOfWork, now: datetime, username: str, actor: str) -> StaffMember:
    """Disable an account and end its sessions; the last enabled admin stays."""
    with uow:
        member = _get(uow, username)
        if member.disabled:
            return member
        if member.role == "admin" and uow.staff.enabled_admins() <= 1:
            raise LastAdmin(f"{member.username} is the last enabled admin: add or enable "
                            "another admin first")
        changed = replace(member, disabled=True, credential=member.credential + 1,
                          updated_at=now)
        uow.staff.update(changed)
        ended = uow.sessions.end_for(member.username, now)
        uow.events.add("staff_disabled", actor, now, sessions_ended=ended, **_detail(changed))
    return changed


def enable_staff(uow: UnitOfWork, now: datetime, username: str, actor: str) -> StaffMember:
    with uow:
        member = _get(uow, username)
        if not member.disabled:
            return member
        changed = replace(member, disabled=False, updated_at=now)
        uow.staff.update(changed)
        uow.events.add("staff_enabled", actor, now, **_detail(changed))
    return changed


def reset_password(uow: UnitOfWork, now: datetime, username: str, password_hash: str,
                   actor: str) -> StaffMember:
    """Give the account a new password and end every session signed in with the old one."""
    with uow:
        member = _get(uow, username)
        changed = replace(member, password_hash=password_hash,
                          credential=member.credential + 1, updated_at=now)
        uow.staff.update(changed)
        ended = uow.sessions.end_for(member.username, now)
        uow.events.add("staff_password_reset", actor, now, sessions_ended=ended,
                       **_detail(changed))
    return changed


def change_member(uow: UnitOfWork, now: datetime, username: str, *, actor: str,
                  teams: Collection[str], name: str | None = None, role: str | None = None,
                  team: str | None = None) -> StaffMember:
    """Change an account's name, role or team (None: keep it); a new role ends its sessions.

    Validated as ``add_staff`` is when the role or team changes: a team only for committee and
    property, a ``[[teams]]`` id (none given: the team named like the role); the last enabled
    admin stays admin. Ending the sessions means a demoted admin's open page loses its rights.
    """
    with uow:
        member = _get(uow, username)
        new_role = member.role if role is None else check_role(role)
        if team is None and new_role == member.role:
            new_team = member.team  # the same role keeps its team
        else:
            new_team = team_for(new_role, team, teams)
        new_name = member.name if name is None else _name(name, member.username)
        if (member.role == "admin" and new_role != "admin" and not member.disabled
                and uow.staff.enabled_admins() <= 1):
            raise LastAdmin(f"{member.username} is the last enabled admin and stays admin: "
                            "add or enable another admin first", reason="last_admin_role")
        changes = {key: [old, new] for key, old, new in (
            ("name", member.name, new_name), ("role", member.role, new_role),
            ("team", member.team, new_team)) if old != new}
        if not changes:
            return member
        changed = replace(member, name=new_name, role=new_role, team=new_team, updated_at=now)
        ended = 0
        if "role" in changes:  # rights change: no session keeps the old ones
            changed = replace(changed, credential=member.credential + 1)
            ended = uow.sessions.end_for(member.username, now)
        uow.staff.update(changed)
        uow.events.add("staff_changed", actor, now, changes=changes, sessions_ended=ended,
                       **_detail(changed))
    return changed


def replicate_staff(uow: UnitOfWork, now: datetime, member: StaffMember, actor: str) -> str:
    """Make this store's account ``member`` as the compound's centre holds it (issue 21: the
    centre owns staff accounts; a gate keeps a copy to sign its own staff in).

    Returns 'added', 'changed' or 'same'. A changed credential (a password reset there) or a
    disable ends the account's sessions here too, in the same transaction, as at the centre.
    """
    with uow:
        held = uow.staff.get(member.username)
        if held is None:
            uow.staff.add(member)
            uow.events.add("staff_replicated", actor, now, **_detail(member))
            return "added"
        copied = replace(member, username=held.username, created_at=held.created_at)
        if copied == held:
            return "same"
        ended = 0
        if (held.credential != copied.credential or copied.disabled) and not held.disabled:
            ended = uow.sessions.end_for(held.username, now)
        uow.staff.update(copied)
        uow.events.add("staff_replicated", actor, now, sessions_ended=ended, **_detail(copied))
        return "changed"


def upgrade_hash(uow: UnitOfWork, now: datetime, username: str, old_hash: str,
                 new_hash: str) -> bool:
    """Store the argon2 hash of a password that just verified against its old hash.

    The same password: sessions go on. Nothing changes when the hash changed meanwhile (a
    reset while the new hash was being made). True when stored.
    """
    with uow:
        member = uow.staff.get(username)
        if member is None or member.password_hash != old_hash:
            return False
        uow.staff.update(replace(member, password_hash=new_hash, updated_at=now))
        uow.events.add("staff_password_rehashed", f"{member.username}@web", now,
                       username=member.username, scheme="argon2id")
    return True


CONFIG_REFUSALS = ("password_hash", "username", "role")  # why an entry is not copied


@dataclass(frozen=True)
class Refused:
    """A ``[[web.users]]`` entry not copied: ``kind`` password_hash (not a hash from shelf
    hash-password), username or role (none an account may have; ``text`` says it)."""

    username: str
    kind: str
    message: str  # in English, for --json and the log
    text: str = ""


@dataclass(frozen=True)
class ConfigImport:
    """What ``import_config_users`` did with each ``[[web.users]]`` entry."""

    added: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # in the store already: the config's entry is ignored
    refused: tuple[Refused, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {"added": list(self.added), "kept": list(self.kept),
                "refused": [{"username": r.username, "reason": r.message, "kind": r.kind}
                            for r in self.refused]}

    def summary(self) -> str:
        """The report in English, for the log line of a start (the command words its own)."""
        parts = [f"added {len(self.added)}" + (f" ({', '.join(self.added)})" if self.added
                                              else ""),
                 f"already in the database {len(self.kept)}"]
        parts += [f"refused {r.username!r}: {r.message}" for r in self.refused]
        return "[[web.users]]: " + "; ".join(parts)


def import_config_users(uow: UnitOfWork, now: datetime, users: Iterable[User],
                        teams: Collection[str], actor: str = CONFIG_ACTOR) -> ConfigImport:
    """Copy the config's accounts the store does not know yet, hashes as they are.

    The roles keep their names; a committee or property account gets the team named like its
    role when there is one (else none: ``/tasks`` then shows every team's tasks and says why).
    """
    added: list[str] = []
    kept: list[str] = []
    refused: list[Refused] = []
    for user in users:
        if uow.staff.get(user.username) is not None:
            kept.append(user.username)
            continue
        if not is_password_hash(user.password_hash):
            refused.append(Refused(user.username, "password_hash",
                                   "password_hash is no hash from shelf hash-password"))
            continue
        try:
            username = check_username(user.username)
        except InvalidStaff as exc:
            refused.append(Refused(user.username, "username", str(exc)))
            continue
        if user.role not in ROLES:
            refused.append(Refused(user.username, "role", f"role {user.role!r} is none of "
                                   f"{roles_allowed(ROLES)}", user.role))
            continue
        team = user.role if user.role in TEAM_ROLES and user.role in teams else None
        member = StaffMember(username, _name(user.name, username), user.role, team,
                             user.password_hash, 1, False, now, now)
        with uow:
            if uow.staff.get(member.username) is not None:  # added meanwhile by another start
                kept.append(member.username)
                continue
            uow.staff.add(member)
            uow.events.add("staff_imported", actor, now, **_detail(member))
        added.append(member.username)
    return ConfigImport(tuple(added), tuple(kept), tuple(refused))


def adopt_config_users(uow: UnitOfWork, config: Config, now: datetime) -> ConfigImport | None:
    """At a start: copy the config's new ``[[web.users]]`` in, and say in one line to remove them.

    None when the config has none (the case after ``shelf init``).
    """
    if not config.web.users:
        return None
    try:
        report = import_config_users(uow, now, config.web.users, [t.id for t in config.teams])
    except StoreUnavailable as exc:  # start anyway: the accounts already there sign in
        log.error("%s: [[web.users]] not copied into the database: %s", config.path, exc)
        return None
    log.warning("%s: remove the [[web.users]] tables: staff accounts live in the database now "
                "(shelf users list); the config is read only for usernames the database lacks "
                "(%s)", config.path, report.summary())
    return report


def staff_json(member: StaffMember) -> dict[str, Any]:
    """An account as ``shelf users list --json`` shows it: never its password hash."""
    return {"username": member.username, "name": member.name, "role": member.role,
            "team": member.team, "disabled": member.disabled,
            "created_at": member.created_at.isoformat(),
            "updated_at": member.updated_at.isoformat()}
