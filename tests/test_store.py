"""The store keeps what it confirmed: pragmas, migrations, and a kill -9 in mid-flow."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from kiosk.errors import NotAStore
from kiosk.migrations import load
from kiosk.store import connect

LATEST = len(load("sqlite"))  # the schema version this program makes


def test_every_connection_is_durable(tmp_path):
    conn = connect(tmp_path / "s.db", create=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_migrating_twice_changes_nothing(tmp_path):
    connect(tmp_path / "s.db", create=True).close()
    conn = connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_a_newer_database_is_refused(tmp_path):
    conn = connect(tmp_path / "s.db", create=True)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    try:
        connect(tmp_path / "s.db")
    except NotAStore as exc:
        assert "newer than this program" in str(exc)
    else:
        raise AssertionError("a newer schema was accepted")


CHECK_IN_FOREVER = textwrap.dedent("""
    import sys
    from kiosk.clock import SystemClock
    from kiosk.config import load_config
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label
    from kiosk.services import act_on_payload
    from kiosk.community import open_store

    config = load_config(sys.argv[1])
    conn = open_store(config)
    households = [r[0] for r in conn.execute("SELECT id FROM households ORDER BY id")]
    n = 0
    while True:
        household = HouseholdId.parse(households[n % len(households)])
        result = act_on_payload(make_label(config.label_secret, household).encode(),
                                conn, config, SystemClock())
        assert result.action == "checkin", result
        print(result.parcel, flush=True)  # confirmed to the courier only after the commit
        n += 1
""")


def test_kill_9_in_mid_check_in_loses_nothing_confirmed(community):
    child = subprocess.Popen([sys.executable, "-c", CHECK_IN_FOREVER, str(community.path)],
                             stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    confirmed = []
    for line in child.stdout:
        confirmed.append(int(line))
        if len(confirmed) == 60:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    confirmed += [int(line) for line in child.stdout.read().split()]

    conn = sqlite3.connect(community.database)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    stored = {r[0] for r in conn.execute("SELECT id FROM parcels")}
    assert set(confirmed) <= stored
    # Every stored parcel is whole: its check-in event, and its notice or the note why not.
    broken = conn.execute("""
        SELECT p.id FROM parcels p
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.parcel_id = p.id
                          AND e.kind = 'checked_in')
           OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.parcel_id = p.id
                          UNION SELECT 1 FROM events e WHERE e.parcel_id = p.id
                          AND e.kind = 'notice_unreachable')
    """).fetchall()
    assert broken == []
    orphans = conn.execute("""SELECT COUNT(*) FROM events WHERE kind = 'checked_in'
                              AND parcel_id NOT IN (SELECT id FROM parcels)""").fetchone()[0]
    assert orphans == 0
