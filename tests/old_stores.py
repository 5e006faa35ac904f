"""Databases made by a release of before, and how to compare them with today's.

The files in ``tests/data/`` stand for databases in the field: they were made by RELEASE's own
code, never by today's, and are regenerated only to fix them, never for a newer release (a newer
one adds its own files beside them). To make them again::

    .venv/bin/python tests/old_stores.py

extracts RELEASE's ``kiosk/`` (``git archive``) into a temporary folder and runs this file
there (``--inside``) with that code first on the path, so the stores are written by that
release's services and migrations. It writes:

- ``store_v19.db``: the sample community at schema 19 through that release's services: the
  households imported, parcels checked in (one collected with its pickup code, one carried
  to a door by a door task), their notices in the outbox.
- ``store_v9.db``: that release's first 9 migrations alone, with rows typed in SQL: parcels
  waiting and collected, a carrier's parcel, lights, door tasks open and cancelled, notices,
  a still, an observation list. The upgrade from it runs the table rebuilds (10, 11, 14) and
  the data rewrites (11, 19).
- ``schemas_v1_to_v19.txt``: ``schema_of`` a database made by that release's first N
  migrations, for each N from 1 to 19 (19: a fresh one), read back by ``released_schemas``.

``schema_of`` and ``rows_of`` need nothing but ``sqlite3``: they run under either release.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

RELEASE = "58f432e"  # the last commit with the migrations inline (kiosk/store.py MIGRATIONS)
DATA = Path(__file__).resolve().parent / "data"
REPO = DATA.parents[1]
SCHEMAS = "schemas_v1_to_v19.txt"
SECTION = "== after migration"


def released_schemas() -> dict[int, str]:
    """Version -> ``schema_of`` a database at that version, as the release made it."""
    text = (DATA / SCHEMAS).read_text(encoding="utf-8")
    sections = [part.split("\n", 1) for part in text.split(f"{SECTION} ")[1:]]
    return {int(version): schema for version, schema in sections}


def schema_of(path: Path) -> str:
    """The database's schema as text: its version pragmas and every table, index and trigger,
    in name order, each SQL statement with its white space made single spaces."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        lines = [f"user_version {conn.execute('PRAGMA user_version').fetchone()[0]}",
                 f"application_id {conn.execute('PRAGMA application_id').fetchone()[0]}"]
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"
                            " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        lines += [f"{kind} {name} on {table}: {' '.join((sql or '').split())}"
                  for kind, name, table, sql in rows]
    finally:
        conn.close()
    return "\n".join(lines) + "\n"


def rows_of(path: Path, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table (or of ``columns``: table -> the columns to read), in an order
    that does not depend on rowids (a table rebuilt by a migration numbers its rows anew)."""
    columns = columns or columns_of(path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {table: sorted(conn.execute(f"SELECT {', '.join(names)} FROM {table}"), key=repr)
                for table, names in columns.items()}
    finally:
        conn.close()


def columns_of(path: Path) -> dict[str, list[str]]:
    """Table -> its columns, for every table of the database."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master"
                                             " WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def regenerate() -> None:
    """Run ``--inside`` on RELEASE's code, writing into tests/data/."""
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", RELEASE, "kiosk"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run([sys.executable, __file__, "--inside", tmp, str(DATA)], env=env,
                       check=True)


def inside(release: Path, out: Path) -> None:
    """Write the stores with the release's code (it must be what ``import kiosk`` finds)."""
    import kiosk

    assert Path(kiosk.__file__).is_relative_to(release), f"not the release: {kiosk.__file__}"
    from kiosk.store import MIGRATIONS, connect

    with tempfile.TemporaryDirectory() as tmp:
        schemas = []
        for version in range(1, len(MIGRATIONS) + 1):
            path = Path(tmp) / f"v{version}.db"
            old_migrations(path, version).close()
            schemas.append(f"{SECTION} {version}\n{schema_of(path)}")
        connect(Path(tmp) / "fresh.db", create=True).close()
        assert schemas[-1].endswith(schema_of(Path(tmp) / "fresh.db"))
        (out / SCHEMAS).write_text("".join(schemas), encoding="utf-8")
        store_v19(Path(tmp) / "community", out / "store_v19.db")
        store_v9(out / "store_v9.db")


def store_v19(directory: Path, target: Path) -> None:
    """The sample community through the release's services: a morning at the shelf."""
    from datetime import UTC, datetime

    from kiosk.clock import ManualClock
    from kiosk.community import init_community, open_store
    from kiosk.domain import HouseholdId
    from kiosk.households import import_households
    from kiosk.labels import make_label
    from kiosk.observation import set_observation
    from kiosk.services import Rules, act_on_payload, pick_up
    from kiosk.store import SqliteUnitOfWork

    config, _ = init_community(directory, "a fixture's admin password")
    rules = Rules.from_config(config)
    clock = ManualClock(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    conn = open_store(config)
    uow = SqliteUnitOfWork(conn)
    report = import_households(uow, config.community.buildings, directory / "households.csv",
                               clock.now(), apply=True, rules=rules)
    assert not report.refused
    for n, household in enumerate(["24-2304", "24-2304", "2-902", "13-1102", "29-1004"]):
        clock.advance(60)
        label = make_label(config.label_secret, HouseholdId.parse(household), f"SF{n:04d}")
        outcome = act_on_payload(label.encode(), uow, rules, clock)
        assert outcome.action == "checkin", outcome
    clock.advance(3600)
    code = conn.execute("SELECT code FROM pickup_codes WHERE household_id = '2-902'"
                        " AND used_at IS NULL").fetchone()[0]
    assert pick_up(code, uow, rules, clock).action == "pickup"
    clock.advance(600)
    assert set_observation("13-1102", True, uow, rules, clock, actor="li@web")
    assert conn.execute("SELECT COUNT(*) FROM door_tasks").fetchone()[0] == 2  # and 29-1004
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] >= 4
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 19
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    target.write_bytes(config.database.read_bytes())


def store_v9(target: Path) -> None:
    """The release's first 9 migrations, and some rows."""
    target.unlink(missing_ok=True)
    conn = old_migrations(target, 9)
    conn.executescript(V9_ROWS)
    conn.close()


def old_migrations(path: Path, version: int) -> sqlite3.Connection:
    """A new database at ``path`` through the release's first ``version`` migrations, run as
    that release's tests made stores of before."""
    from kiosk.store import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number}")
    return conn


V9_ROWS = """
BEGIN;
INSERT INTO households (id, building, room, name, phone, email, under_observation, updated_at)
    VALUES ('24-2304', 24, '2304', 'Zhang', '13900002304', 'z@example.org', 0,
            '2026-11-01T00:00:00.000+00:00'),
           ('24-2403', 24, '2403', 'Li', '13900002403', '', 1, '2026-11-01T00:00:00.000+00:00'),
           ('2-902', 2, '902', 'Wu', '', 'wu@example.org', 0, '2026-11-01T00:00:00.000+00:00');
INSERT INTO slots (code, shelf, position, capacity, buildings, overflow, active)
    VALUES ('A-01', 'A', 1, 4, '1-12', 0, 1), ('A-02', 'A', 2, 4, '13-30', 0, 1),
           ('FLOOR', 'F', 0, 100, '', 1, 1), ('B-09', 'B', 9, 2, '', 0, 0);
INSERT INTO pickup_codes (id, household_id, code, created_at, used_at)
    VALUES (1, '2-902', '481516', '2026-11-02T08:00:00.000+00:00',
            '2026-11-02T18:00:00.000+00:00'),
           (2, '24-2304', '234234', '2026-11-03T08:00:00.000+00:00', NULL);
INSERT INTO parcels (id, label, ref, household_id, slot_code, status, pickup_code_id,
                     checked_in_at, closed_at, kind, symbology, room_confirmed, fresh)
    VALUES (1, 'DS1:2-902:SF0001:KX3M7Q2B9HZA', 'SF0001', '2-902', 'A-01', 'collected', 1,
            '2026-11-02T08:00:00.000+00:00', '2026-11-02T18:00:00.000+00:00', 'shelf',
            'QRCODE', 1, 0),
           (2, 'DS1:24-2304:SF0002:M2Q8ZB4XK7RA', 'SF0002', '24-2304', 'A-02', 'waiting', 2,
            '2026-11-03T08:00:00.000+00:00', NULL, 'shelf', 'QRCODE', 1, 0),
           (3, 'YT1234567890123', 'YT1234567890123', '24-2304', 'A-02', 'waiting', 2,
            '2026-11-03T09:00:00.000+00:00', NULL, 'carrier', 'CODE128', 0, 1),
           (4, 'DS1:24-2403:SF0004:P9W3T6N2C8LE', 'SF0004', '24-2403', 'A-02', 'waiting', NULL,
            '2026-11-03T10:00:00.000+00:00', NULL, 'shelf', NULL, 1, 1),
           (5, 'DS1:24-2403:SF0005:Q4R7U2M9D3FA', 'SF0005', '24-2403', 'FLOOR', 'waiting', NULL,
            '2026-11-03T10:05:00.000+00:00', NULL, 'shelf', 'QRCODE', 1, 0);
INSERT INTO events (id, at, kind, actor, parcel_id, household_id, slot_code, detail)
    VALUES (1, '2026-11-02T08:00:00.000+00:00', 'checked_in', 'courier@kiosk', 1, '2-902',
            'A-01', '{}'),
           (2, '2026-11-02T18:00:00.000+00:00', 'collected', 'resident@kiosk', 1, '2-902',
            'A-01', '{"code": 1}'),
           (3, '2026-11-03T08:00:00.000+00:00', 'checked_in', 'courier@kiosk', 2, '24-2304',
            'A-02', '{}'),
           (4, '2026-11-03T09:00:00.000+00:00', 'checked_in', 'courier@kiosk', 3, '24-2304',
            'A-02', '{"carrier": true}'),
           (5, '2026-11-03T09:30:00.000+00:00', 'observation_added', 'li@web', NULL,
            '24-2403', NULL, '{"list": 1}'),
           (6, '2026-11-03T10:00:00.000+00:00', 'checked_in', 'courier@kiosk', 4, '24-2403',
            'A-02', '{"task": 2}'),
           (7, '2026-11-03T10:01:00.000+00:00', 'scan_refused', 'courier@kiosk', NULL, NULL,
            NULL, '{"error": "forged"}'),
           (8, '2026-11-03T10:05:00.000+00:00', 'checked_in', 'courier@kiosk', 5, '24-2403',
            'FLOOR', '{"task": 2}');
INSERT INTO stills (id, taken_at, jpeg, deleted_at)
    VALUES (1, '2026-11-03T08:00:00.000+00:00', X'FFD8FFE000104A464946', NULL),
           (2, '2026-11-02T08:00:00.000+00:00', NULL, '2026-11-16T08:00:00.000+00:00');
INSERT INTO event_stills (event_id, still_id) VALUES (3, 1), (1, 2);
INSERT INTO outbox (id, created_at, kind, channel, recipient, household_id, parcel_id, payload,
                    status, attempts, next_attempt_at, last_error, sent_at)
    VALUES (1, '2026-11-02T08:00:00.000+00:00', 'pickup_ready', 'sms', '13953753544', '2-902',
            1, '{"code": "481516"}', 'sent', 1, '2026-11-02T08:00:00.000+00:00', NULL,
            '2026-11-02T08:00:05.000+00:00'),
           (2, '2026-11-03T08:00:00.000+00:00', 'pickup_ready', 'email', 'z@example.org',
            '24-2304', 2, '{"code": "234234"}', 'pending', 2, '2026-11-03T08:10:00.000+00:00',
            'connection refused', NULL),
           (3, '2026-11-03T10:00:00.000+00:00', 'door_delivery', 'team-night', 'night',
            '24-2403', 4, '{"task": 2}', 'failed', 5, '2026-11-03T11:00:00.000+00:00',
            'gave up', NULL);
INSERT INTO signals (slot_code, mode, until, reason)
    VALUES ('A-02', 'blink', '2026-11-03T10:00:30.000+00:00', 'checkin'),
           ('A-01', 'on', '2026-11-02T18:00:30.000+00:00', 'pickup');
INSERT INTO attempts (at, source, ok)
    VALUES ('2026-11-02T17:59:00.000+00:00', 'pickup:keypad', 0),
           ('2026-11-02T18:00:00.000+00:00', 'pickup:keypad', 1);
INSERT INTO sessions (id, username, credential, created_at, last_seen, ended_at)
    VALUES ('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'admin',
            '0123456789abcdef', '2026-11-03T07:00:00.000+00:00',
            '2026-11-03T09:00:00.000+00:00', NULL);
INSERT INTO lockouts (at, until, username, client)
    VALUES ('2026-11-03T06:00:00.000+00:00', '2026-11-03T06:15:00.000+00:00', 'admin',
            '192.168.1.20');
INSERT INTO expected (code, household_id, announced_by, announced_at, used_at, parcel_id, fresh)
    VALUES ('YT1234567890123', '24-2304', 'api@web', '2026-11-02T12:00:00.000+00:00',
            '2026-11-03T09:00:00.000+00:00', 3, 1),
           ('JD0000000000042', '2-902', 'wu@web', '2026-11-03T12:00:00.000+00:00', NULL, NULL,
            0);
INSERT INTO observation_files (sha256, name, data, stored_at, stored_by)
    VALUES ('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'list.csv',
            X'6275696C64696E672C726F6F6D0A32342C323430330A', '2026-11-03T09:30:00.000+00:00',
            'li@web');
INSERT INTO observation_lists (id, applied_at, actor, list_date, source, file_name, sha256,
                               format, added, released, unchanged, unknown, problems)
    VALUES (1, '2026-11-03T09:30:00.000+00:00', 'li@web', '2026-11-03', 'committee',
            'list.csv', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
            'status', 1, 0, 0, 0, 0);
INSERT INTO door_tasks (id, household_id, team, status, created_at, assigned_at, fresh_since,
                        escalations, closed_at, closed_by)
    VALUES (1, '24-2304', 'day', 'cancelled', '2026-11-01T10:00:00.000+00:00',
            '2026-11-01T10:00:00.000+00:00', NULL, 0, '2026-11-01T12:00:00.000+00:00',
            'li@web'),
           (2, '24-2403', 'night', 'open', '2026-11-03T09:30:00.000+00:00',
            '2026-11-03T10:00:00.000+00:00', '2026-11-03T10:00:00.000+00:00', 1, NULL, NULL);
INSERT INTO door_task_parcels (task_id, parcel_id) VALUES (2, 4), (2, 5);
COMMIT;
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", nargs=2, metavar=("RELEASE_DIR", "OUT"),
                        help="(run by this script) write the stores with the code on the path")
    args = parser.parse_args()
    if args.inside:
        inside(Path(args.inside[0]), Path(args.inside[1]))
    else:
        regenerate()
