"""``GET /healthz``: is the gate alive? For a monitor (Uptime Kuma, a cron curl), no login.

It answers 200 while the kiosk's heartbeat is fresh and its camera delivers, 503 when the
heartbeat is stale or missing (``kiosk_stale``), the camera is lost (``camera_lost``) or the
store does not answer (``store_unavailable``); the body is JSON of times and counts only (no
names, rooms or phones), so it may be open to anyone who can reach the site.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Blueprint, current_app, jsonify

from kiosk.errors import StoreUnavailable
from kiosk.queries import kiosk_health
from web.db import get_db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Any:
    try:
        health = kiosk_health(get_db(), current_app.config["CLOCK"].now())
    except (StoreUnavailable, sqlite3.Error) as exc:
        log.error("GET /healthz: the store does not answer: %s", exc)
        return jsonify(status="store_unavailable"), 503, {"Cache-Control": "no-store"}
    healthy = health.pop("healthy")
    return jsonify(health), 200 if healthy else 503, {"Cache-Control": "no-store"}
