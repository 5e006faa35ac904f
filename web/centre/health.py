"""``GET /healthz`` at the centre: the centre answers, and how each of its gates fares.

No login (times and counts only, no names, rooms or phones), like a gate's own. ``gates``:
per gate, when it last synced, how many records it had not yet sent (``pending``) and the
age of the oldest (``lag_s``), its kiosk's heartbeat age and whether its camera is lost, as
its last sync reported them (ages carried forward to now). 503 when the database does not
answer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify

from kiosk.centre.db import CentreUnavailable
from kiosk.centre.gates import gate_health, gates_of
from web.centre.db import get_pg

bp = Blueprint("health", __name__)  # health.healthz: public, as on a gate (web.auth)
log = logging.getLogger(__name__)
SYNC_QUIET_S = 300  # a gate not heard from this long says so on the pages (it syncs each minute)


@bp.get("/healthz")
def healthz() -> Any:
    now = current_app.config["CLOCK"].now()
    try:
        rows = gates_of(get_pg(), current_app.config["COMMUNITY"].id)
    except CentreUnavailable as exc:
        log.error("GET /healthz: %s", exc)
        return jsonify(status="centre_unavailable"), 503, {"Cache-Control": "no-store"}
    return jsonify(status="ok", community=current_app.config["COMMUNITY"].id,
                   gates=[gate_health(row, now) for row in rows]), 200, {
                       "Cache-Control": "no-store"}


def quiet_minutes(row: dict[str, Any], now) -> int | None:
    """Minutes since the gate's last sync once that is ``SYNC_QUIET_S`` or more (a gate cut
    off, or its sync stopped); ``None`` while it is heard from, or before it ever synced."""
    synced = row["last_sync_at"]
    if synced is None or (now - synced).total_seconds() < SYNC_QUIET_S:
        return None
    return int((now - synced).total_seconds() // 60)
