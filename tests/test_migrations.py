"""Migrations as files: a store made by the release of before opens unchanged, an older one
upgrades to exactly what a fresh one is, and the runner keeps its promises (one transaction,
no write lock when up to date, a newer store refused, no file skipped)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from old_stores import DATA, columns_of, released_schemas, rows_of, schema_of

from kiosk.errors import NotAStore
from kiosk.migrations import SchemaTooNew, load, read_folder, upgrade
from kiosk.store import SqliteLedger, SqliteUnitOfWork, connect, migrate

RELEASED = 19  # the schema of the release that made tests/data/store_v19.db


@pytest.fixture(scope="module")
def fresh_schema(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fresh") / "fresh.db"
    connect(path, create=True).close()
    return schema_of(path)


def copy_of(name: str, tmp_path):
    return shutil.copyfile(DATA / name, tmp_path / name)


@pytest.mark.parametrize("version", range(1, RELEASED + 1))
def test_the_files_make_the_schemas_the_inline_list_made(tmp_path, version):
    """The release of before, with its migrations in a list in store.py, dumped the schema after
    each of them: a statement lost, changed or moved to another file shows here."""
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    assert migrate(conn, target=version) == version
    conn.close()
    assert schema_of(tmp_path / "s.db") == released_schemas()[version]


def test_a_store_of_the_last_release_opens_with_its_data_unchanged(tmp_path, fresh_schema):
    path = copy_of("store_v19.db", tmp_path)
    columns = columns_of(path)
    before = rows_of(path, columns)
    assert sum(map(len, before.values())) > 100  # households, parcels, tasks, notices ...
    connect(path).close()
    assert rows_of(path, columns) == before  # a later migration's new columns aside
    assert schema_of(path) == fresh_schema


def test_a_store_at_schema_9_upgrades_to_a_fresh_store_keeping_every_row(tmp_path,
                                                                          fresh_schema):
    """Through the table rebuilds (10 lights, 11 door task parcels, 14 parcels) and the data
    rewrites (11 why a task was cancelled, 19 tasks of before count as told)."""
    path = copy_of("store_v9.db", tmp_path)
    old_columns = columns_of(path)
    before = rows_of(path, old_columns)
    conn = connect(path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert rows_of(path, old_columns) == before
    assert schema_of(path) == fresh_schema

    rows = conn.execute("SELECT id, status, closed_reason, told_at = created_at AS told"
                        " FROM door_tasks ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(1, "cancelled", "released", 1), (2, "open", None, 1)]
    assert {r[0] for r in conn.execute("SELECT layer FROM signals")} == {"gate"}
    uow = SqliteUnitOfWork(conn)
    assert [p.id for p in uow.tasks.parcels(2)] == [4, 5]
    assert uow.tasks.untold() == []  # an upgrade sends the teams no list of old tasks
    assert [p.id for p in uow.parcels.waiting_for("24-2304")] == [2, 3]
    conn.close()


@pytest.mark.parametrize("start", range(1, RELEASED))
def test_an_upgrade_from_any_version_ends_where_a_fresh_store_is(tmp_path, start, fresh_schema):
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    migrate(conn, target=start)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == start
    assert migrate(conn) == len(load("sqlite"))
    conn.close()
    assert schema_of(tmp_path / "s.db") == fresh_schema


def test_an_up_to_date_store_opens_while_another_process_holds_the_write_lock(tmp_path):
    path = copy_of("store_v19.db", tmp_path)
    connect(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        reader = sqlite3.connect(path, isolation_level=None, timeout=0)
        assert migrate(reader) == len(load("sqlite"))  # no lock asked: none waited for
        reader.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_shipped_folder_numbers_every_migration_once():
    migrations = load("sqlite")
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))
    assert len(migrations) >= RELEASED
    assert all(m.sql.strip() or m.step for m in migrations)
    assert migrations[0].name == "0001_initial"


# --- the runner, on folders of its own ---------------------------------------------------------

def write(folder, files: dict[str, str]):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


STEP = '''
def migrate(conn) -> None:
    """Copy each name into the table the SQL beside it made, in upper case."""
    for (name,) in conn.execute("SELECT name FROM people").fetchall():
        conn.execute("INSERT INTO shouted (name) VALUES (?)", (name.upper(),))
'''


def test_a_python_step_runs_after_its_sql_in_the_same_transaction(tmp_path):
    folder = write(tmp_path / "m", {
        "0001_people.sql": "CREATE TABLE people (name TEXT);\n"
                           "INSERT INTO people VALUES ('li'), ('wang');\n",
        "0002_shouted.sql": "-- the step fills it\nCREATE TABLE shouted (name TEXT);\n",
        "0002_shouted.py": STEP,
    })
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    assert upgrade(SqliteLedger(conn), read_folder(folder)) == 2
    assert conn.execute("SELECT name FROM shouted ORDER BY name").fetchall() == [("LI",),
                                                                                 ("WANG",)]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path):
    folder = write(tmp_path / "m", {
        "0001_people.sql": "CREATE TABLE people (name TEXT);\n",
        "0002_broken.sql": "CREATE TABLE shouted (name TEXT);\nINSERT INTO nowhere VALUES (1);\n",
    })
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        upgrade(SqliteLedger(conn), read_folder(folder))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []  # 1 undone too


def test_a_store_newer_than_the_program_is_refused_and_left_alone(tmp_path):
    path = copy_of("store_v19.db", tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(load('sqlite')) + 1}")
    with pytest.raises(SchemaTooNew, match="newer than this program"):
        migrate(conn)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0  # as it was
    conn.close()
    with pytest.raises(NotAStore, match="run the newer program, or restore a backup"):
        connect(path)


@pytest.mark.parametrize(("files", "error"), [
    ({"0001_a.sql": "", "0003_c.sql": ""}, "without a gap; found \\[1, 3\\]"),
    ({"0001_a.sql": "", "0001_b.sql": ""}, "migration 1 has two names"),
    ({"0001_a.sql": "", "0002-b.sql": ""}, "0002-b.sql is not named as a migration"),
    ({"0001_a.py": "def other(conn): pass\n"}, "defines no migrate\\(conn\\)"),
])
def test_a_folder_that_is_not_a_clean_sequence_is_refused(tmp_path, files, error):
    with pytest.raises(ValueError, match=error):
        read_folder(write(tmp_path / "m", files))
