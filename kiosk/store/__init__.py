"""The SQLite store: connection pragmas, versioned schema, unit of work and repositories.

This package and ``kiosk.queries`` (the read side) hold all of the shelf's SQL; the rest of the
core speaks to the store through the ports in ``kiosk.ports`` and gets domain types back. Import
what you need from ``kiosk.store``; its modules are its parts: ``connect`` (opening, checking,
copying the file), ``schema`` (migrations, from ``kiosk/migrations/sqlite/``), ``db`` (errors
translated), ``unit_of_work``, and one module per group of repositories.

Durability rules: WAL with ``synchronous=FULL`` so a committed transaction survives a power
cut; every write happens inside one explicit ``BEGIN IMMEDIATE`` transaction (the unit of
work), so a kill -9 at any moment leaves either all of a check-in or none of it. SQLite's own
errors (locked, busy, disk full, I/O) leave here as StoreUnavailable.

Only `shelf init` creates a database; everything else opens an existing one and refuses a
missing, empty, damaged or foreign file (NotAStore) instead of starting an empty community.
"""

from __future__ import annotations

from kiosk.store.connect import (
    APPLICATION_ID,
    close_store,
    connect,
    copy_database,
    integrity_problems,
)
from kiosk.store.db import record_heartbeat, unavailable, without_waiting_for_the_disk
from kiosk.store.parcels import UNDONE_MARK
from kiosk.store.schema import SqliteLedger, migrate
from kiosk.store.staff import StaffSession
from kiosk.store.unit_of_work import SqliteUnitOfWork

__all__ = [
    "APPLICATION_ID", "UNDONE_MARK", "SqliteLedger", "SqliteUnitOfWork", "StaffSession",
    "close_store", "connect", "copy_database", "integrity_problems", "migrate",
    "record_heartbeat", "unavailable", "without_waiting_for_the_disk",
]
