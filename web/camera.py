"""The camera view (``/camera``): what the kiosk's camera sees, for staff aiming it.

The page asks the kiosk for its frames (``POST /camera/watch``, renewed by camera.js while
the page is open; the kiosk publishes for WATCH_S after the last ask: kiosk.camera_view) and
shows the newest (``/camera/frame.jpg``) about once a second, each code's outline drawn over
it, with its pixels per module and whether it reads, and the frame's white and glare
(``/camera/view``: hardware.aiming's figures). The site never opens the camera. A frame is a
picture of people at the gate: staff alone see it, as the stills (web/parcels.py), never
kept by a browser or a proxy.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, url_for

from kiosk.staff import STAFF_ROLES
from kiosk.store.camera_view import latest_view, want_view
from web.auth import roles_required
from web.db import get_db
from web.i18n import t

bp = Blueprint("camera", __name__, url_prefix="/camera")
WATCH_S = 15  # the kiosk publishes this long after the page last asked
ASK_EVERY_MS = 5_000  # camera.js asks again this often
SHOW_EVERY_MS = 1_000  # and fetches the newest frame this often
STALE_S = 5  # a frame older than this: the kiosk is not answering (not running?)
NO_STORE = {"Cache-Control": "no-store"}


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


@bp.get("")
@roles_required(*STAFF_ROLES)
def page() -> str:
    words = {key: t(f"camera_{key}") for key in (
        "read", "unread", "good", "far", "too_far", "unknown", "qr", "barcode", "none",
        "stale", "frame", "waiting")}
    return render_template("camera.html", page_data={
        "watch": url_for(".watch"), "view": url_for(".view"), "frame": url_for(".frame"),
        "ask_ms": ASK_EVERY_MS, "show_ms": SHOW_EVERY_MS, "stale_s": STALE_S,
        "words": words})


@bp.post("/watch")
@roles_required(*STAFF_ROLES)
def watch() -> Any:
    until = _now() + timedelta(seconds=WATCH_S)
    want_view(get_db(), until)
    return jsonify(watching_until=until.isoformat()), 200, NO_STORE


@bp.get("/view")
@roles_required(*STAFF_ROLES)
def view() -> Any:
    """``seen_at`` and ``age_s`` of the newest frame (None before any), and ``sight``."""
    latest = latest_view(get_db())
    if latest is None:
        return jsonify(seen_at=None, age_s=None, sight=None), 200, NO_STORE
    age = (_now() - datetime.fromisoformat(latest["seen_at"])).total_seconds()
    return jsonify(seen_at=latest["seen_at"], age_s=round(age, 1),
                   sight=latest["sight"]), 200, NO_STORE


@bp.get("/frame.jpg")
@roles_required(*STAFF_ROLES)
def frame() -> Any:
    latest = latest_view(get_db())
    if latest is None:
        abort(404)
    return Response(latest["jpeg"], mimetype="image/jpeg", headers=NO_STORE)
