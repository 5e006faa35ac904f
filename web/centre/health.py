"""``GET /healthz`` at the centre: the centre answers, and how each of its gates fares.

No login (times and counts only, no names, rooms or phones), like a gate's own. ``gates``:
per gate, when it last synced, how many records it had not yet sent (``pending``) and the
age of the oldest (``lag_s``), its kiosk's heartbeat age and whether its camera is lost, as
its last sync reported them (ages carried forward to now; ``lag_s`` grows from the last sync
once the gate is quiet, ``kiosk.centre.gates.gate_health``). 503 when the database does not
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

