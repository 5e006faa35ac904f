"""The centre's PostgreSQL: a real server (bench/pg.py), migrated by the one runner."""

from __future__ import annotations

import threading

import pytest

from kiosk.centre.db import CentreUnavailable, connect, migrate, schema_version, shown_url
from kiosk.migrations import load


def test_an_empty_database_is_migrated_to_the_newest_schema_once(empty_centre_url):
    with connect(empty_centre_url, migrate_schema=False) as conn:
        assert schema_version(conn) == 0
        assert migrate(conn) == len(load("postgresql"))
        assert migrate(conn) == len(load("postgresql"))  # nothing to do: no lock taken
        rows = conn.execute("SELECT number, name FROM schema_migrations").fetchall()
    assert [r["number"] for r in rows] == list(range(1, len(load("postgresql")) + 1))
    assert rows[0]["name"] == "0001_centre"


def test_two_processes_starting_at_once_migrate_once(empty_centre_url):
    versions, errors = [], []

    def start() -> None:
        try:
            with connect(empty_centre_url) as conn:
                versions.append(schema_version(conn))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions == [len(load("postgresql"))] * 4


def test_ids_and_sequences_are_64_bit(centre_url):
    with connect(centre_url) as conn:
        narrow = conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('integer', 'smallint')
               AND (column_name IN ('id', 'seq', 'base', 'applied', 'last_command')
                    OR column_name LIKE '%\\_id' ESCAPE '\\')""").fetchall()
    assert narrow == []


def test_an_unreachable_centre_is_the_shelfs_own_error_without_its_password(tmp_path):
    url = f"postgresql://shelf:s3cret@/shelf?host={tmp_path}&port=5432"
    with pytest.raises(CentreUnavailable) as refused:
        connect(url)
    assert "s3cret" not in str(refused.value)
    assert "shelf:***@" in str(refused.value)
    assert shown_url("postgresql://a:b@h/d") == "postgresql://a:***@h/d"
