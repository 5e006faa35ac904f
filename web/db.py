"""One store connection per request, kept in ``g`` and closed when the request ends."""

from __future__ import annotations

import sqlite3

from flask import Flask, current_app, g

from kiosk.store import SqliteUnitOfWork, connect


def get_db() -> sqlite3.Connection:
    """The request's connection to the community's store, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def get_uow() -> SqliteUnitOfWork:
    """A unit of work on the request's connection."""
    return SqliteUnitOfWork(get_db())


def close_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
