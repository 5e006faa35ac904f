"""`shelf users`: staff accounts from the shell (the same use cases as the site's admin page).

A password is read from standard input (its first line), or asked for twice at a terminal:
never from the command line, where every user of the machine could read it in ``ps``. Each
change is an event naming who ran the command (``li@shell``); ``disable`` and ``reset`` end
that person's sessions on the staff site at once, and so does ``change`` with a new role.

At the centre, ``add NAME --role district_admin|district_staff`` makes a district account (of
no compound), and ``assign NAME --community ID --role R [--team T] --from D --until D`` lends
one to a compound for a period (``kiosk.centre.district_staff``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import datetime

from kiosk.app.words import core_say, say
from kiosk.config import Config
from kiosk.ports import Clock, StaffMember
from kiosk.staff import (
    InvalidStaff,
    StaffExists,
    UnknownStaff,
    check_password_text,
    check_username,
    team_for,
)
from kiosk.store import SqliteUnitOfWork

Command = Callable[..., argparse.ArgumentParser]


def add_users_command(command: Command, common: argparse.ArgumentParser,
                      config: Callable[[argparse.Namespace], Config],
                      shell_actor: Callable[[], str]) -> None:
    """Register ``shelf users ACTION`` on the CLI's parser."""
    p = command("users", lambda args, clock: cmd_users(args, clock, config, shell_actor),
                say("help_users"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, parents=[common], help=help_text,
                                  description=help_text)

    a = action("add", say("help_users_add"))
    a.add_argument("username", help=say("help_users_username"))
    a.add_argument("--role", required=True, help=say("help_users_add_role"))
    a.add_argument("--team", help=say("help_users_add_team"))
    a.add_argument("--name", default="", help=say("help_users_name"))
    for name in ("disable", "enable"):
        action(name, say(f"help_users_{name}")).add_argument("username")
    r = action("reset", say("help_users_reset"))
    r.add_argument("username")
    c = action("change", say("help_users_change"))
    c.add_argument("username")
    c.add_argument("--name", help=say("help_users_name"))
    c.add_argument("--role", help=say("help_users_change_role"))
    c.add_argument("--team", help=say("help_users_change_team"))
    c.add_argument("--json", action="store_true", help=say("help_users_change_json"))
    ls = action("list", say("help_users_list"))
    ls.add_argument("--json", action="store_true", help=say("help_users_list_json"))
    i = action("import-config", say("help_users_import_config"))
    i.add_argument("--json", action="store_true", help=say("help_users_import_config_json"))
    g = action("assign", say("help_users_assign"))
    g.add_argument("username", help=say("help_users_username"))
    g.add_argument("--community", required=True, help=say("help_users_assign_community"))
    g.add_argument("--role", required=True, help=say("help_users_assign_role"))
    g.add_argument("--team", help=say("help_users_add_team"))
    g.add_argument("--from", dest="starts", required=True, help=say("help_users_assign_from"))
    g.add_argument("--until", dest="ends", required=True, help=say("help_users_assign_until"))
    g.add_argument("--json", action="store_true", help=say("help_users_assign_json"))


def cmd_users(args: argparse.Namespace, clock: Clock,
              config_of: Callable[[argparse.Namespace], Config],
              shell_actor: Callable[[], str]) -> int:
    from kiosk.app.reports import staff_import
    from kiosk.community import open_store
    from kiosk.staff import adopt_config_users, import_config_users

    config = config_of(args)
    now = clock.now()
    if config.centre is not None and config.centre.is_centre:
        return _at_centre(args, config, now, shell_actor())
    if args.action == "assign":
        raise ValueError(say("users_assign_not_centre", config=config.path))
    if args.action not in ("list",):
        from kiosk.sync.owner import refuse_at_a_gate

        refuse_at_a_gate(config, "staff")
    conn = open_store(config)
    try:
        uow = SqliteUnitOfWork(conn)
        if args.action == "import-config":
            report = import_config_users(uow, now, config.web.users,
                                         [t.id for t in config.teams])
            print(json.dumps(report.as_json(), ensure_ascii=False) if args.json
                  else staff_import(report))
            return 1 if report.refused else 0
        adopt_config_users(uow, config, now)  # the first start may be this one
        if args.action == "list":
            return _list(uow, args.json)
        return _change(args, uow, config, now, shell_actor())
    finally:
        conn.close()


def _at_centre(args: argparse.Namespace, config: Config, now: datetime, actor: str) -> int:
    """`shelf users` on the compound's centre: its accounts, each change sent to every gate."""
    from kiosk.centre.db import connect
    from kiosk.centre.gates import ensure_community
    from kiosk.centre.lists import send_account
    from kiosk.centre.store import CentreUnitOfWork

    assert config.centre is not None
    if args.action == "import-config":
        raise ValueError(say("users_centre_no_import"))
    with connect(config.centre.database) as conn:
        ensure_community(conn, config.community.id, now, name=str(config.community.name))
        uow = CentreUnitOfWork(conn, config.community.id)
        if args.action == "list":
            from kiosk.centre.district_staff import district_accounts

            return _list(uow, args.json, district_accounts(conn, now))
        if args.action == "assign" or (args.action == "add" and _district_role(args.role)):
            return _district(args, conn, config, now, actor)
        if args.action in ("disable", "enable", "reset") and _is_district(conn, args.username):
            return _district_change(args, conn, now, actor)
        code = _change(args, uow, config, now, actor)
        member = uow.staff.get(args.username.strip())
        if member is not None:
            for issued in send_account(conn, config.community.id, member, now, actor):
                print(say("centre_sent", gate=issued.gate, command=issued.seq),
                      file=sys.stderr if getattr(args, "json", False) else sys.stdout)
        return code


def _is_district(conn: object, username: str) -> bool:
    from kiosk.centre.district_staff import district_account

    return district_account(conn, username.strip()) is not None


def _district_change(args: argparse.Namespace, conn: object, now: datetime,
                     actor: str) -> int:
    """`shelf users disable|enable|reset NAME` at the centre, for a district account."""
    from kiosk.centre.district_staff import change_district_account
    from kiosk.passwords import hash_password

    if args.action == "reset":
        member = change_district_account(conn, now, args.username, actor=actor,
                                         password_hash=hash_password(read_password()))
        print(say("users_reset", who=_described(member)))
    else:
        member = change_district_account(conn, now, args.username, actor=actor,
                                         disabled=args.action == "disable")
        print(say("users_disabled_now" if member.disabled else "users_enabled_now",
                  who=_described(member)))
    return 0


def _district_role(role: str) -> bool:
    from kiosk.config import role_named
    from kiosk.staff import DISTRICT_ROLES

    return role_named(role, DISTRICT_ROLES) is not None


def _district(args: argparse.Namespace, conn: object, config: Config, now: datetime,
              actor: str) -> int:
    """A district account added, or one lent to a compound for a period (the centre's)."""
    from kiosk.centre.district_staff import add_district_account, assign, period
    from kiosk.passwords import hash_password

    if args.action == "add":
        check_username(args.username)  # what is wrong is said before the password
        password_hash = hash_password(read_password())
        member = add_district_account(conn, now, username=args.username, name=args.name,
                                      role=args.role, password_hash=password_hash,
                                      actor=actor)
        print(say("users_added", who=_described(member)))
        return 0
    starts, ends = period(args.starts, args.ends, config.community.timezone)
    lent = assign(conn, now, username=args.username, community=args.community, role=args.role,
                  team=args.team, starts_at=starts, ends_at=ends, actor=actor)
    if args.json:
        print(json.dumps(lent.as_json(), ensure_ascii=False))
    else:
        zone = config.community.timezone
        print(say("users_assigned", username=lent.username, community=lent.community,
                  role=_role(lent.role), team=lent.team or "-",
                  starts=lent.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                  ends=lent.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")))
    return 0


def _list(uow: SqliteUnitOfWork, as_json: bool,
          district: dict[str, list[dict[str, object]]] | None = None) -> int:
    from kiosk.staff import staff_json

    members = uow.staff.all()
    if as_json:
        print(json.dumps({"users": [staff_json(m) for m in members], **(district or {})},
                         ensure_ascii=False))
        return 0
    for row in (district or {}).get("district", []):
        print(say("users_line", username=row["username"], role=_role(row["role"]), team="-",
                  state=say("users_disabled" if row["disabled"] else "users_enabled"),
                  name=row["name"]))
    for lent in (district or {}).get("assignments", []):
        print(say("users_assigned", username=lent["username"], community=lent["community"],
                  role=_role(lent["role"]), team=lent["team"] or "-", starts=lent["from"],
                  ends=lent["until"]))
    for m in members:
        print(say("users_line", username=m.username, role=_role(m.role), team=m.team or "-",
                  state=say("users_disabled" if m.disabled else "users_enabled"), name=m.name))
    if not members:
        print(say("users_none"))
    return 0


def _change(args: argparse.Namespace, uow: SqliteUnitOfWork, config: Config, now: datetime,
            actor: str) -> int:
    from kiosk.passwords import hash_password
    from kiosk.staff import add_staff, disable_staff, enable_staff, reset_password

    teams = [t.id for t in config.teams]
    if args.action == "add":
        team_for(args.role, args.team, teams)  # what is wrong is said before the password
        if uow.staff.get(check_username(args.username)) is not None:
            raise StaffExists(say("users_exists", username=args.username))
        password_hash = hash_password(read_password())  # slow: before any transaction
        member = add_staff(uow, now, username=args.username, name=args.name, role=args.role,
                           team=args.team, password_hash=password_hash, actor=actor,
                           teams=teams)
        print(say("users_added", who=_described(member)))
    elif args.action == "disable":
        print(say("users_disabled_now",
                  who=_described(disable_staff(uow, now, args.username, actor))))
    elif args.action == "enable":
        print(say("users_enabled_now",
                  who=_described(enable_staff(uow, now, args.username, actor))))
    elif args.action == "reset":
        if uow.staff.get(args.username) is None:  # say so before asking for a password
            raise UnknownStaff(say("users_unknown", username=args.username))
        password_hash = hash_password(read_password())
        member = reset_password(uow, now, args.username, password_hash, actor)
        print(say("users_reset", who=_described(member)))
    elif args.action == "change":
        return _change_member(args, uow, teams, now, actor)
    return 0


def _change_member(args: argparse.Namespace, uow: SqliteUnitOfWork, teams: list[str],
                   now: datetime, actor: str) -> int:
    from kiosk.staff import change_member, staff_json

    before = uow.staff.get(args.username.strip())
    member = change_member(uow, now, args.username, actor=actor, teams=teams, name=args.name,
                           role=args.role, team=args.team)
    if args.json:
        print(json.dumps(staff_json(member), ensure_ascii=False))
    elif before is not None and before.role != member.role:
        print(say("users_changed_role", who=_described(member), name=member.name))
    else:
        print(say("users_changed", who=_described(member), name=member.name))
    return 0


def _described(member: StaffMember) -> str:
    team = say("users_who_team", team=member.team) if member.team else ""
    return say("users_who", username=member.username, role=_role(member.role), team=team)


def _role(role: str) -> str:
    """A role as said: in English its id (`admin`), in Chinese its name (管理员)."""
    return core_say(f"role_{role}")


def read_password() -> str:
    """The new password: standard input's first line, or typed twice at a terminal."""
    if not sys.stdin.isatty():
        return check_password_text(sys.stdin.readline().rstrip("\r\n"))
    first = check_password_text(getpass.getpass(say("users_password")))
    if getpass.getpass(say("users_password_again")) != first:
        raise InvalidStaff(say("users_password_twice"), reason="password_twice")
    return first
