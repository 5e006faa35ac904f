"""The SQLite side of the migrations runner: ``PRAGMA user_version`` records the schema version."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from kiosk.migrations import Migration, load, upgrade


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> int:
    """Apply the migrations of ``kiosk/migrations/sqlite/`` this store has not had; return its
    schema version. ``target`` stops at that version (a store of before, for a test)."""
    return upgrade(SqliteLedger(conn), load("sqlite"), target=target)


class SqliteLedger:
    """How an SQLite store records and takes its migrations (``kiosk.migrations.Ledger``).

    The version is ``PRAGMA user_version``: the number of migrations applied. All that are
    missing run in one ``BEGIN IMMEDIATE`` transaction, so a kill -9 leaves the store at the
    version of before or at the newest, and two processes starting at once migrate it once.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[int]:
        # A migration may rebuild a table that others refer to (14: parcels): SQLite's
        # procedure turns foreign keys off for it (outside the transaction: inside, the pragma
        # does nothing) and checks them all before committing.
        conn = self.conn
        keys_on = conn.execute("PRAGMA foreign_keys").fetchone()[0]
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.version()
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                rows = [tuple(r) for r in broken][:3]
                raise RuntimeError(f"the migration broke foreign keys: {rows}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute(f"PRAGMA foreign_keys = {'ON' if keys_on else 'OFF'}")

    def apply(self, migration: Migration) -> None:
        for statement in _statements(migration.sql):
            self.conn.execute(statement)
        if migration.step is not None:
            migration.step(self.conn)
        self.conn.execute(f"PRAGMA user_version = {migration.number}")


def _statements(script: str) -> Iterable[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL in a migration: {buffer.strip()[:60]}")
