"""Announced parcels: ``POST /api/expected`` from other tools (a resident form, a group-buy
list, a chat bot), and the staff's list of announcements (``/expected``), where a mistaken or a
doubtful one is withdrawn.

The body is JSON, ``{"household": "24-2304", "code": "SF1234567890"}`` (with ``"fresh": true``
for fresh food, whose door task goes first); the answer is the announcement (201 when made,
200 when it existed already) or ``{"error": code, "message": ..., "suggestions": [...]}`` with
a 4xx status: 403 ``out_of_scope`` when the token may not announce for that household or
carrier (``[[web.tokens]]`` ``buildings``, ``carriers``), 409 ``code_taken`` when the code is
announced (or checked in) for another household: refused, never overwritten. A bearer token
lets a tool in, and its name is recorded as who announced (``bot@api``); a staff session too,
with its CSRF token in an ``X-CSRFToken`` header (``web.auth``: every POST needs one).

An announcement is a claim, not a check: at the gate the courier confirms it from the waybill
before the slot lights (``kiosk.services.check_in_carrier``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.errors import ShelfError, StoreUnavailable
from kiosk.queries import announcements
from kiosk.services import expect, withdraw_announcement
from web.actors import actor_name
from web.auth import actor, check_csrf, login_required, roles_required, token_scope
from web.db import get_db, get_uow
from web.i18n import t
from web.parcels import ACTION_ROLES, STAFF_ROLES

bp = Blueprint("expected", __name__)

STATUS = {"unknown_household": 422, "code_taken": 409, "out_of_scope": 403}  # else: 400
MET_SHOWN = timedelta(days=7)  # the list shows announcements met this long ago at most


@bp.post("/api/expected")
@login_required
def announce() -> Any:
    # Only a JSON body is read; a staff session's request also carried its CSRF token
    # (web.auth checked it before this view), so no other site can announce in their name.
    body = request.get_json(silent=True)
    if not (isinstance(body, dict) and isinstance(body.get("household"), str)
            and isinstance(body.get("code"), str)
            and isinstance(body.get("fresh", False), bool)):
        return _refused("bad_request", 'send a JSON body {"household": "24-2304", "code": '
                        '"SF1234567890"} with Content-Type: application/json', 400)
    try:
        done = expect(body["household"], body["code"], get_uow(),
                      current_app.config["CLOCK"], actor=actor(), fresh=body.get("fresh", False),
                      scope=token_scope())
    except StoreUnavailable:
        raise  # web.errors answers 503
    except ShelfError as exc:
        return _refused(exc.code, str(exc), STATUS.get(exc.code, 400), exc.suggestions)
    return jsonify(done.as_json()), 201 if done.created else 200


def _refused(error: str, message: str, status: int,
             suggestions: tuple[str, ...] = ()) -> Any:
    return jsonify(error=error, message=message, suggestions=list(suggestions)), status


@bp.get("/expected")
@roles_required(*STAFF_ROLES)
def index() -> str:
    """Announcements waiting for their parcel, and those met lately: who announced each, and
    where its parcel went (another household's room when the waybill said so)."""
    found = announcements(get_db(), current_app.config["CLOCK"].now() - MET_SHOWN)
    for row in (*found["open"], *found["met"]):
        row["by"] = actor_name(row["announced_by"])
    return render_template("expected.html", found=found, days=MET_SHOWN.days,
                           can_act=g.user.role in ACTION_ROLES)


@bp.post("/expected/<code>/withdraw")
@roles_required(*ACTION_ROLES)
def withdraw(code: str) -> Any:
    """Withdraw an announcement no parcel has met: its code may be announced again."""
    check_csrf()
    try:
        gone = withdraw_announcement(code, get_uow(), current_app.config["CLOCK"],
                                     actor=actor())
    except StoreUnavailable:
        raise
    except ShelfError as exc:
        flash(t(f"expected_err_{exc.code}", code=code[:40]), "error")
        return redirect(url_for(".index"))
    flash(t("expected_withdrawn", code=gone.code, household=gone.household_id), "ok")
    return redirect(url_for(".index"))
