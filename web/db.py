"""One store connection per request, kept in ``g`` and closed when the request ends."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flask import Flask, current_app, g

from kiosk.store import SqliteUnitOfWork, connect, without_waiting_for_the_disk


def get_db() -> sqlite3.Connection:
    """The request's connection to the community's store, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def get_uow() -> SqliteUnitOfWork:
    """A unit of work on the request's connection: the gate's SQLite store, or the store the
    app names in ``UNIT_OF_WORK`` (the compound's centre: ``web.centre``)."""
    factory = current_app.config.get("UNIT_OF_WORK")
    return factory() if factory is not None else SqliteUnitOfWork(get_db())


def bookkeeping(uow: Any) -> AbstractContextManager[None]:
    """Commit what is inside without waiting for the disk where the store can (SQLite's
    ``without_waiting_for_the_disk``: sign-in attempts, session touches); elsewhere as is."""
    if isinstance(getattr(uow, "conn", None), sqlite3.Connection):
        return without_waiting_for_the_disk(uow.conn)
    return nullcontext()


def close_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
