"""One connection to the centre's PostgreSQL per request, kept in ``g``, closed at its end."""

from __future__ import annotations

import psycopg
from flask import Flask, current_app, g

from kiosk.centre.db import connect


def get_pg() -> psycopg.Connection:
    """The request's connection to the centre (its schema was migrated at start)."""
    if "pg" not in g:
        g.pg = connect(current_app.config["CENTRE"].database, migrate_schema=False)
    return g.pg


def close_pg(exc: BaseException | None = None) -> None:
    conn = g.pop("pg", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_pg)
