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
from kiosk.centre.gates import gates_of
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


def gate_health(row: dict[str, Any], now) -> dict[str, Any]:
    """One gate's health as its last sync reported it, ages carried forward to ``now``."""
    synced = row["last_sync_at"]
    since = (now - synced).total_seconds() if synced else None
    status = row["status"] or {}
    beat = status.get("kiosk_heartbeat_age_s")
    lag = status.get("lag_s")
    return {
        "gate": row["id"], "name": row["name"],
        "last_sync_at": synced.isoformat() if synced else None,
        "pending": row["pending"] if synced else None,
        "lag_s": None if since is None else round(lag + since, 1) if lag is not None
        and row["pending"] else 0.0,
        "kiosk_heartbeat_age_s": round(beat + since, 1) if beat is not None and since is not
        None else None,
        "camera_lost": status.get("camera_lost"),
        "failed_notices": status.get("outbox_failed"),
        "commands_waiting": row["last_command"] - row["commands_applied"],
    }


def quiet_minutes(row: dict[str, Any], now) -> int | None:
    """Minutes since the gate's last sync once that is ``SYNC_QUIET_S`` or more (a gate cut
    off, or its sync stopped); ``None`` while it is heard from, or before it ever synced."""
    synced = row["last_sync_at"]
    if synced is None or (now - synced).total_seconds() < SYNC_QUIET_S:
        return None
    return int((now - synced).total_seconds() // 60)
