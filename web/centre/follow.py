"""Search, the exceptions list and overdue parcels of the whole compound, at its centre.

The gate's pages (``web.follow``: the same routes, templates and words) on the compound's
read models (``kiosk.centre.follow``): every result names its gate and leads to
``/parcels/<gate>/<id>``. A room may be typed in any form (``24-2304``, ``24栋2304室``,
``24/2304``), a waybill or label, or a phone's last four digits (the centre's household
list); pickup codes stay on their gate. The gate-only actions (confirm a room, return to the
courier) are done at the gate; an exception's parcel leads to its record, where staff may
hand it out from here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, render_template, request

from kiosk.centre.follow import attention, overdue_parcels, search_parcels
from web.auth import roles_required
from web.centre.db import get_pg
from web.follow import MAX_QUERY, exception_days, refusal_words, with_age
from web.i18n import t
from web.parcels import REASON_CHARS, STAFF_ROLES, source_name
from web.shelf import OVERDUE_AFTER, return_after

bp = Blueprint("follow", __name__)


def _now() -> Any:
    return current_app.config["CLOCK"].now()


def _community() -> str:
    return current_app.config["COMMUNITY"].id


@bp.get("/search")
@roles_required(*STAFF_ROLES)
def search() -> str:
    """One box, one list, every gate: parcels found by room, reference or phone tail."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    found = search_parcels(get_pg(), _community(), query) if query else None
    now = _now()
    for row in (found or {}).get("results", []):
        with_age(row, now)
    return render_template("search.html", query=query, found=found, centre=True)


@bp.get("/exceptions")
@roles_required(*STAFF_ROLES)
def exceptions() -> str:
    """What needs a look now at any gate, each with its gate, its time and its parcel."""
    days = exception_days()
    now = _now()
    pickup = current_app.config["RULES"].pickup
    found = attention(get_pg(), _community(), now - timedelta(days=days),
                      quiet=timedelta(seconds=pickup.window_s), least=pickup.max_failures)
    for refusal in found["refused"]:
        refusal["words"] = refusal_words(refusal)
    for key in ("unreachable", "overflow", "unconfirmed"):
        for row in found[key]:
            with_age(row, now)
    return render_template("exceptions.html", found=found, days=days,
                           reason_chars=REASON_CHARS, can_act=False, source_name=source_name,
                           overflow_name=t("overflow"))


@bp.get("/overdue")
@roles_required(*STAFF_ROLES)
def overdue() -> str:
    """Parcels waiting a day or more at any gate, oldest first; those to return on top."""
    now = _now()
    rows = overdue_parcels(get_pg(), _community(), now - OVERDUE_AFTER)
    for row in rows:
        with_age(row, now)
    due = [r for r in rows if r["age"] == "return"]
    return render_template("overdue.html", due=due, waiting=[r for r in rows if r not in due],
                           days=return_after().days, reason_chars=REASON_CHARS, can_act=False)
