"""A parcel's record for the staff: its events in order, with the camera's still of each scan.

"No CCTV hunt": when a parcel goes missing, staff see who scanned it, when, at which slot, and
what the gate's camera saw then. A still is a picture of people at the gate: staff alone see
it (never the gate screen, never a bearer token), and it is kept ``[kiosk] stills_days`` days.
Issue 10 grows this page into the full timeline.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template

from kiosk.queries import parcel_timeline, still_jpeg
from web.auth import roles_required
from web.db import get_db
from web.i18n import t
from web.shelf import local_time
from web.translations import TRANSLATIONS

bp = Blueprint("parcels", __name__)

STAFF_ROLES = ("admin", "committee", "property")
# A still does not change until it is deleted: a staff browser may keep it a while, no proxy
# may keep it at all.
STILL_CACHE_CONTROL = "private, max-age=3600"


@bp.get("/parcels/<int:parcel_id>")
@roles_required(*STAFF_ROLES)
def timeline(parcel_id: int) -> str:
    """The parcel, then each of its events: when, what, who, where, and the camera's still."""
    parcel = parcel_timeline(get_db(), parcel_id)
    if parcel is None:
        abort(404)
    for event in parcel["events"]:
        event["what"] = event_name(event["kind"])
        event["when"] = local_time(event["at"], "%Y-%m-%d %H:%M:%S")
    return render_template("parcel.html", parcel=parcel)


@bp.get("/stills/<int:event_id>.jpg")
@roles_required(*STAFF_ROLES)
def still(event_id: int) -> Any:
    """The JPEG the camera took at event ``event_id``; 404 once deleted (or if there was none)."""
    jpeg = still_jpeg(get_db(), event_id)
    if jpeg is None:
        abort(404)
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = STILL_CACHE_CONTROL
    return response


def event_name(kind: str) -> str:
    """An event's kind in words; a kind this page does not know yet shows as it is stored."""
    key = f"event_{kind}"
    return t(key) if key in TRANSLATIONS["en"] else kind
