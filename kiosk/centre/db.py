"""Connecting to the centre's PostgreSQL, and its side of the migrations runner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from kiosk.errors import StoreUnavailable
from kiosk.migrations import Migration, load, upgrade

# pg_advisory_xact_lock's key for migrating: two processes starting at once migrate once.
MIGRATION_LOCK = 0x53484C46  # "SHLF", as the SQLite stores' application_id
# Taken shared by every exchange that applies a gate's batch, and alone by whoever keeps a
# closed day's counts (kiosk.centre.queries.kept_rows): counts are never kept from a reading
# that a batch committed meanwhile would have changed.
COUNTS_LOCK = 0x53484C43
CONNECT_TIMEOUT_S = 10
SECRET_IN_URL = re.compile(r"(//[^:/@]*:)[^@]*@")
# Every connection to the centre, alone or pooled: autocommit (each change is an explicit
# transaction), rows as dicts, named in pg_stat_activity.
SESSION = {"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S,
           "application_name": "shelf"}


class CentreUnavailable(StoreUnavailable):
    """The centre's PostgreSQL cannot be reached, or refused us."""

    code = "centre_unavailable"


def shown_url(url: str) -> str:
    """The database URL with any password replaced by ***: the only form ever logged."""
    return SECRET_IN_URL.sub(r"\1***@", url)


def connect(url: str, *, migrate_schema: bool = True) -> psycopg.Connection:
    """Open the centre's database (autocommit: each change is an explicit transaction).

    The schema is brought up to date first, unless ``migrate_schema`` is False (`shelf centre
    init` migrates itself, and says so).
    """
    try:
        conn = psycopg.connect(url, **SESSION)
    except psycopg.Error as exc:
        raise CentreUnavailable(f"cannot reach the centre's database {shown_url(url)}: "
                                f"{_first_line(exc)}") from None
    if migrate_schema:
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def unavailable_as_shelf_error() -> Iterator[None]:
    """Turn a lost connection into the shelf's own error (the callers never see psycopg's)."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise CentreUnavailable(f"the centre's database is unavailable: {_first_line(exc)}; "
                                "nothing was saved") from exc


@contextmanager
def one_snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """Let every statement inside read the same committed state (a read-only REPEATABLE READ
    transaction; inside the caller's own transaction, that one's), the connection's loss
    turned into the shelf's own error."""
    with unavailable_as_shelf_error():
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            yield
            return
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield


def migrate(conn: psycopg.Connection, *, target: int | None = None) -> int:
    """Apply the migrations of ``kiosk/migrations/postgresql/`` not applied yet; the version."""
    with unavailable_as_shelf_error():
        return upgrade(PostgresLedger(conn), load("postgresql"), target=target)


class PostgresLedger:
    """How the centre records and takes its migrations (``kiosk.migrations.Ledger``).

    ``schema_migrations`` holds one row per migration applied; all missing ones run in one
    transaction (PostgreSQL's DDL is transactional) that first takes an advisory lock, so two
    processes starting at once migrate once and a kill leaves the schema as it was.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def version(self) -> int:
        exists = self.conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
        if exists["t"] is None:
            return 0
        return self.conn.execute("SELECT COUNT(*) AS n FROM schema_migrations").fetchone()["n"]

    @contextmanager
    def transaction(self) -> Iterator[int]:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            yield self.version()

    def apply(self, migration: Migration) -> None:
        if migration.sql.strip():
            # Without parameters, psycopg sends the script whole (several statements).
            self.conn.execute(migration.sql)
        if migration.step is not None:
            migration.step(self.conn)
        self.conn.execute("INSERT INTO schema_migrations (number, name) VALUES (%s, %s)",
                          (migration.number, migration.name))


def schema_version(conn: psycopg.Connection) -> int:
    return PostgresLedger(conn).version()


def centre_event(conn: psycopg.Connection, community: str, gate: str | None, now: datetime,
                 kind: str, actor: str, *, household: str | None = None,
                 **detail: object) -> None:
    """Append to the centre's own history (inside the caller's transaction)."""
    conn.execute("INSERT INTO centre_events (community_id, at, kind, actor, gate_id,"
                 " household_id, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (community, now, kind, actor[:200], gate, household, Jsonb(detail)))
