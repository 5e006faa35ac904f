"""`shelf centre ...` (the compound's centre) and `shelf sync` (a gate of the compound).

    shelf centre init --database postgresql://... [--json]    create or upgrade the schema
    shelf centre gate add GATE --community ID [--json]        register a gate, print its token
    shelf centre gate rotate GATE --community ID [--json]     give it a new one (ends the old)
    shelf centre households import FILE [--apply] [--json]    the compound's household list
    shelf centre observation apply FILE --date D [...]        the day's observation list
    shelf sync [--once] [--json]                              on a gate: push, pull, repeat
    shelf district counts [--date D] [--json]                 every compound's day, summed
    shelf district observation apply FILE --date D [...]      one list, a compound column

A gate's token is printed once and never again, nor logged; a database URL is shown with its
password replaced by ***.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from kiosk.app.words import say
from kiosk.config import Config
from kiosk.errors import ConfigError
from kiosk.ports import Clock

Command = Callable[..., argparse.ArgumentParser]
Load = Callable[[argparse.Namespace], Config]


def add_centre_commands(command: Command, common: argparse.ArgumentParser, load: Load,
                        actor: Callable[[], str]) -> None:
    """Register ``shelf centre`` and ``shelf sync`` on the CLI's parser."""
    p = command("centre", lambda a, c: cmd_centre(a, c, load, actor), say("help_centre"))
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    def sub(parent: argparse._SubParsersAction, name: str, key: str) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[common], help=say(key), description=say(key))

    i = sub(what, "init", "help_centre_init")
    i.add_argument("--database", help=say("help_centre_database"))
    i.add_argument("--json", action="store_true", help=say("help_centre_json"))

    g = sub(what, "gate", "help_centre_gate")
    acts = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in ("add", "rotate"):
        a = sub(acts, name, f"help_centre_gate_{name}")
        a.add_argument("gate", help=say("help_centre_gate_id"))
        a.add_argument("--community", required=True, help=say("help_centre_community"))
        a.add_argument("--database", help=say("help_centre_database"))
        a.add_argument("--url", help=say("help_centre_url"))
        a.add_argument("--name", default="", help=say("help_centre_gate_name"))
        a.add_argument("--json", action="store_true", help=say("help_centre_json"))

    h = sub(what, "households", "help_centre_households")
    h_acts = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    hi = sub(h_acts, "import", "help_centre_households")
    hi.add_argument("file", type=Path, help=say("help_households_file"))
    hi.add_argument("--apply", action="store_true", help=say("help_households_apply"))
    hi.add_argument("--json", action="store_true", help=say("help_centre_json"))

    o = sub(what, "observation", "help_centre_observation")
    o_acts = o.add_subparsers(dest="action", required=True, metavar="ACTION")
    _list_options(sub(o_acts, "apply", "help_centre_observation"), "help_observation_apply_file")

    d = command("district", lambda a, c: cmd_district(a, c, load, actor), say("help_district"))
    d_what = d.add_subparsers(dest="what", required=True, metavar="WHAT")
    dc = sub(d_what, "counts", "help_district_counts")
    dc.add_argument("--date", help=say("help_counts_date"))
    dc.add_argument("--json", action="store_true", help=say("help_district_counts_json"))
    do = sub(d_what, "observation", "help_district_observation")
    do_acts = do.add_subparsers(dest="action", required=True, metavar="ACTION")
    _list_options(sub(do_acts, "apply", "help_district_observation"),
                  "help_district_observation_file")

    s = command("sync", lambda a, c: cmd_sync(a, c, load), say("help_sync"))
    s.add_argument("--once", action="store_true", help=say("help_sync_once"))
    s.add_argument("--json", action="store_true", help=say("help_sync_json"))


def _list_options(apply: argparse.ArgumentParser, file_help: str) -> None:
    """An observation list's options, the same at a compound's centre and the district's."""
    apply.add_argument("file", type=Path, help=say(file_help))
    apply.add_argument("--date", required=True, type=date.fromisoformat,
                       help=say("help_observation_apply_date"))
    apply.add_argument("--source", default="", help=say("help_observation_apply_source"))
    apply.add_argument("--dry-run", action="store_true",
                       help=say("help_observation_apply_dry_run"))
    apply.add_argument("--apply-valid-rows", action="store_true",
                       help=say("help_observation_apply_apply_valid_rows"))
    apply.add_argument("--json", action="store_true", help=say("help_centre_json"))

def _database(args: argparse.Namespace, load: Load) -> tuple[str, Config | None]:
    """``--database``, else the config's [centre] database."""
    if getattr(args, "database", None):
        return args.database, None
    config = load(args)
    if config.centre is None or not config.centre.is_centre:
        raise ConfigError(say("centre_no_database", config=config.path))
    return config.centre.database, config


def cmd_centre(args: argparse.Namespace, clock: Clock, load: Load,
               actor: Callable[[], str]) -> int:
    from kiosk.centre.db import connect, migrate, schema_version, shown_url

    if args.what == "init":
        url, _ = _database(args, load)
        with connect(url, migrate_schema=False) as conn:
            before = schema_version(conn)
            after = migrate(conn)
        report = {"database": shown_url(url), "schema": after, "migrated": after - before}
        print(json.dumps(report) if args.json else say("centre_init", **report))
        return 0
    if args.what == "gate":
        return _gate(args, clock, load, actor)
    return _lists(args, clock, load, actor)


def _gate(args: argparse.Namespace, clock: Clock, load: Load, actor: Callable[[], str]) -> int:
    from kiosk.centre.db import connect
    from kiosk.centre.gates import add_gate, rotate

    url, config = _database(args, load)
    public = args.url or (config.centre.url if config and config.centre else "")
    with connect(url) as conn:
        if args.action == "add":
            new = add_gate(conn, args.community, args.gate, clock.now(), name=args.name,
                           actor=actor())
        else:
            new = rotate(conn, args.community, args.gate, clock.now(), actor=actor())
    keys = new.config(public)
    if args.json:
        print(json.dumps({"gate": new.gate, "community": new.community, "config": keys}))
        return 0
    print(say("centre_gate_added" if args.action == "add" else "centre_gate_rotated",
              gate=new.gate, community=new.community), file=sys.stderr)
    print(f'[community]\nid = "{new.community}"\n\n[gate]\nid = "{new.gate}"\n\n'
          f'[centre]\nurl = "{public or say("centre_url_here")}"\ntoken = "{new.token}"')
    return 0


def _lists(args: argparse.Namespace, clock: Clock, load: Load,
           actor: Callable[[], str]) -> int:
    from kiosk.centre.db import connect
    from kiosk.centre.lists import apply_observation_at_centre, import_households_at_centre
    from kiosk.services import Rules

    url, config = _database(args, load)
    assert config is not None  # a list needs the centre's [community]: no --database here
    community = config.community.id
    data = args.file.read_bytes()
    with connect(url) as conn:
        if args.what == "households":
            report, issued = import_households_at_centre(
                conn, community, config.community.buildings, args.file.name, data,
                clock.now(), actor=actor(), apply=args.apply, rules=Rules.from_config(config))
            ok = not report.refused
        else:
            report, issued = apply_observation_at_centre(
                conn, community, args.file.name, data, clock.now(), list_date=args.date,
                source=args.source, actor=actor(), rules=Rules.from_config(config),
                confirm=args.apply_valid_rows, dry_run=args.dry_run)
            ok = report.applied or (args.dry_run and report.readable and not report.problems)
    if args.json:
        print(json.dumps({**report.as_json(), "commands": [i.as_json() for i in issued]},
                         ensure_ascii=False))
    else:
        print(report.summary())
        for done in issued:
            print(say("centre_sent", gate=done.gate, command=done.seq))
    return 0 if ok else 1


def _district_list(args: argparse.Namespace, clock: Clock, url: str, config: Config,
                   actor: Callable[[], str]) -> int:
    """`shelf district observation apply`: one list, each compound given its rows."""
    from kiosk.centre.db import connect
    from kiosk.centre.district_lists import apply_district_list
    from kiosk.services import Rules

    with connect(url) as conn:
        report = apply_district_list(
            conn, args.file.name, args.file.read_bytes(), clock.now(), list_date=args.date,
            source=args.source, actor=actor(), rules=Rules.from_config(config),
            confirm=args.apply_valid_rows, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(say("district_list_problem", line=problem["line"] or "-", kind=problem["kind"],
                  text=problem["text"]))
    for part in report.parts:
        print(say("district_list_compound", community=part.community))
        print(part.report.summary())
        for done in part.issued:
            print(say("centre_sent", gate=done.gate, command=done.seq))
    return 0 if report.ok else 1


def cmd_district(args: argparse.Namespace, clock: Clock, load: Load,
                 actor: Callable[[], str]) -> int:
    """`shelf district counts`: every compound of the centre, its gates, its people."""
    from kiosk.centre.db import connect
    from kiosk.centre.district import district_counts

    url, config = _database(args, load)
    assert config is not None  # the district's day is in the centre's [community] timezone
    if args.what == "observation":
        return _district_list(args, clock, url, config, actor)
    zone = config.community.timezone
    try:
        day = date.fromisoformat(args.date) if args.date else clock.now().astimezone(zone).date()
    except ValueError:
        raise ValueError(say("bad_date", text=args.date)) from None
    with connect(url) as conn:
        counts = district_counts(conn, day, zone)
    if args.json:
        print(json.dumps(counts, ensure_ascii=False))
        return 0
    from kiosk.app.reports import counted_line

    print(f"{counts['date']}: " + counted_line(counts["totals"]))
    for compound in counts["compounds"]:
        print(say("district_compound", community=compound["community"])
              + counted_line(compound["totals"]))
    for person in counts["people"]:
        print(say("district_person", person=person["person"], community=person["community"],
                  team=person["team"] or "-") + counted_line(
                      {k: person[k] for k in ("checked_in", "delivered", "handed_out")}))
    return 0


def cmd_sync(args: argparse.Namespace, clock: Clock, load: Load) -> int:
    from kiosk.community import open_store
    from kiosk.sync.gate import run_sync, sync_once
    from kiosk.sync.link import HttpLink

    config = load(args)
    if config.centre is None or config.centre.is_centre:
        raise ConfigError(say("sync_not_a_gate", config=config.path))
    link = HttpLink(config.centre.url, config.centre.token, config.centre.timeout_s)
    conn = open_store(config)
    try:
        if args.once:
            report = sync_once(conn, config, link, clock)
            if args.json:
                print(json.dumps(report.as_json(), ensure_ascii=False))
            else:
                print(say("sync_done", **report.as_json()))
            return 0 if report.centre == "reachable" else 1
        from kiosk.app.signals import stop_on_signals
        from kiosk.backup import hold_lock

        with hold_lock(config.database, "sync"):
            run_sync(conn, config, link, clock, stop_on_signals())
        return 0
    finally:
        conn.close()
