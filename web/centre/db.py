"""The centre's PostgreSQL for the site: a pool of connections per database URL, one lent to
each request that needs it (kept in ``g``) and given back at its end.

A request used to open a connection of its own: connecting costs more than most of the
queries a page or a gate's exchange runs (issue 22: 20 staff polling the district's
dashboard, 400 gates syncing).
"""

from __future__ import annotations

import threading
import weakref

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool, PoolTimeout

from kiosk.centre.db import CONNECT_TIMEOUT_S, SESSION, CentreUnavailable, connect, shown_url
from web.serving import THREADS

# A request holds one connection at most, and waitress serves THREADS requests at once (twice
# that: a development server's threads are not counted).
POOL_SIZE = 2 * THREADS
# How long a request waits for a connection: never for a busy one (more than threads), so only
# while the database is away. Then it is a 503 at once, as a failed connect was: a gate's
# exchange held back for seconds could reach the database after its sync was killed and a
# newer exchange of the same gate applied (its stale ``holds`` then reads as a store rewound:
# a false alarm; found by the sync-kill-9 proof).
WAIT_S = 1.0
_opening = threading.Lock()


def get_pg() -> psycopg.Connection:
    """The request's connection to the centre (its schema was migrated at start)."""
    if "pg" not in g:
        pool = _pool()
        try:
            g.pg = pool.getconn(timeout=WAIT_S)
        except PoolTimeout:
            raise CentreUnavailable(
                f"the centre's database {shown_url(pool.conninfo)} gave no connection within "
                f"{WAIT_S} s; nothing was saved") from None
        g.pg_pool = pool
    return g.pg


def _pool() -> ConnectionPool:
    """The app's pool for the database its config names now (made at the first request)."""
    url = current_app.config["CENTRE"].database
    pools = current_app.extensions.setdefault("centre_pools", {})
    with _opening:
        if url not in pools:
            pools[url] = open_pool(url, POOL_SIZE)
            # The pool's thread and connections end with the app (or the process).
            weakref.finalize(current_app._get_current_object(), pools[url].close)  # type: ignore[attr-defined]
    return pools[url]


def open_pool(url: str, size: int) -> ConnectionPool:
    """Connections to the centre kept open for the site's requests (``size`` at most), each
    checked before it is lent, so one the server dropped (restarted, killed) is replaced
    rather than failing a request. The database is reached once first: an unreachable one is
    the shelf's own error at once (its URL shown without its password), not a wait."""
    connect(url, migrate_schema=False).close()
    return ConnectionPool(url, kwargs=SESSION, min_size=1, max_size=size, open=True,
                          check=ConnectionPool.check_connection, timeout=CONNECT_TIMEOUT_S,
                          num_workers=1, name="centre")


def close_pg(exc: BaseException | None = None) -> None:
    conn, pool = g.pop("pg", None), g.pop("pg_pool", None)
    if conn is not None:
        pool.putconn(conn)  # rolled back if a transaction was left open; dropped if broken


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_pg)
