"""Find a parcel and see what needs attention: search, the exceptions list, overdue parcels.

- ``/search?q=`` is the one box at the top of every staff page: a building-room (``24-2304``,
  ``24栋2304``), a waybill or label reference, a pickup code (6 digits) or a phone's last 4
  digits; the results in one list, the closest first, each leading to its record
  (``kiosk.queries.search_parcels``).
- ``/exceptions`` lists what needs a look: the gate's refusals of the last days (forged,
  unknown household, garbage; carrier codes the gate asked a room for that never checked in),
  runs of wrong pickup codes at a keypad (how many, when, which keypad; never the codes),
  parcels whose household no channel reaches, notices that gave up, parcels in the overflow
  place, rooms typed at the gate and not settled (with "confirm room" right there), what a
  shelf audit found (missing, extra, moved parcels, each with its audit's id) and nobody has
  settled since (collected, moved, returned).
- ``/overdue`` lists the parcels waiting a day or more, oldest first, each with how long; those
  past ``[pickup] return_after_days`` come first, to return to the courier (with the action).

Households are shown whole, as on the rest of the staff site; a refusal's message is the one
the gate recorded (households masked); phones are masked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, g, render_template, request

from kiosk.audit_views import audit_exceptions
from kiosk.queries import attention, keypad_runs, overdue_parcels, search_parcels
from web.auth import roles_required
from web.db import get_db
from web.i18n import has, local, t, why
from web.parcels import ACTION_ROLES, REASON_CHARS, STAFF_ROLES, source_name
from web.shelf import OVERDUE_AFTER, age_band, return_after
from web.tasks import waited

bp = Blueprint("follow", __name__)

MAX_QUERY = 60
EXCEPTION_DAYS = 7  # the gate's refusals of this many days back
MAX_EXCEPTION_DAYS = 31


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


@bp.get("/search")
@roles_required(*STAFF_ROLES)
def search() -> str:
    """One box, one list: parcels found by room, reference, pickup code or phone tail."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    found = search_parcels(get_db(), query) if query else None
    now = _now()
    for row in (found or {}).get("results", []):
        with_age(row, now)
    return render_template("search.html", query=query, found=found)


@bp.get("/exceptions")
@roles_required(*STAFF_ROLES)
def exceptions() -> str:
    """What needs a look now, each with its time and a way to the parcel."""
    days = exception_days()
    now = _now()
    found = attention(get_db(), now - timedelta(days=days),
                      current_app.config["LAYOUT"].overflow.code)
    for refusal in found["refused"]:
        refusal["words"] = refusal_words(refusal)
    pickup = current_app.config["RULES"].pickup
    found["keypad"] = keypad_runs(get_db(), now - timedelta(days=days),
                                  timedelta(seconds=pickup.window_s), pickup.max_failures)
    found["audit"] = audit_exceptions(get_db(), now - timedelta(days=days))
    for key in ("unreachable", "overflow", "unconfirmed", "not_placed"):
        for row in found[key]:
            with_age(row, now)
    return render_template("exceptions.html", found=found, days=days,
                           reason_chars=REASON_CHARS, can_act=g.user.role in ACTION_ROLES,
                           source_name=source_name,
                           overflow_name=local(current_app.config["LAYOUT"].overflow_name))


def exception_days() -> int:
    """How many days back the exceptions list looks: ``?days=`` (1 to 31), else a week."""
    try:
        return min(MAX_EXCEPTION_DAYS, max(1, int(request.args.get("days", EXCEPTION_DAYS))))
    except ValueError:
        return EXCEPTION_DAYS


@bp.get("/overdue")
@roles_required(*STAFF_ROLES)
def overdue() -> str:
    """Parcels waiting a day or more, oldest first; those to return to the courier on top."""
    now = _now()
    rows = overdue_parcels(get_db(), now - OVERDUE_AFTER)
    for row in rows:
        with_age(row, now)
    due = [r for r in rows if r["age"] == "return"]
    return render_template("overdue.html", due=due, waiting=[r for r in rows if r not in due],
                           days=return_after().days, reason_chars=REASON_CHARS,
                           can_act=g.user.role in ACTION_ROLES)


def with_age(row: dict[str, Any], now: datetime) -> None:
    """How long a parcel has waited (or did, until it left), in words, and its colour band."""
    left = row["status"] != "waiting" and row["closed_at"]
    row["waited"] = waited(row["checked_in_at"], datetime.fromisoformat(left) if left else now)
    row["age"] = None if left else age_band(row["checked_in_at"], now)


def refusal_words(refusal: dict[str, Any]) -> str:
    """A refusal at the gate in the staff's words: the site's own for what the core says to
    the command line (``exc_err_<code>``), else the core's words for its code, else a word for
    any refusal; never the core's English message, nor the gate's words to couriers ("ask the
    staff")."""
    if refusal["kind"] == "needs_room":
        return t("exc_needs_room")
    key = f"exc_err_{refusal['error']}"
    if has(key):
        return t(key)
    said = why(refusal["error"])
    return said[:1].upper() + said[1:] if said else t("exc_err_other")  # a headline: capital
