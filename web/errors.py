"""The store failing under a request: a short page (JSON under /api/) with 503, never a traceback.

A full disk or an unreadable database is for the administrator to fix; the staff member sees
what happened in their language and that nothing was saved, and may try again later.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request

from kiosk.domain import mask_path
from kiosk.errors import StorageFull, StoreUnavailable
from kiosk.store import unavailable
from web.i18n import t

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30


def store_unavailable(exc: StoreUnavailable) -> Any:
    key = "storage_full" if isinstance(exc, StorageFull) else "store_unavailable"
    log.error("%s %s: %s", request.method, mask_path(request.path), exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if request.path.startswith("/api/"):
        return jsonify(error=t(key), code=exc.code), 503, headers
    if "_login_user" not in g:  # the store failed while the member was looked up (the
        # centre's database gone): the page's header would ask it again, so draw it for nobody
        g._login_user = current_app.login_manager.anonymous_user()
    return render_template("unavailable.html", message_key=key), 503, headers


def sqlite_error(exc: sqlite3.Error) -> Any:
    """A read model's query failed (they speak SQLite directly): the same 503."""
    if isinstance(exc, sqlite3.IntegrityError):
        raise exc  # a bug, not an unavailable store: Flask's 500, with the traceback logged
    return store_unavailable(unavailable(exc))


def init_app(app: Flask) -> None:
    app.register_error_handler(StoreUnavailable, store_unavailable)
    app.register_error_handler(sqlite3.Error, sqlite_error)
