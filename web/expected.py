"""Announced parcels from other tools: ``POST /api/expected`` (a resident form, a group-buy list,
a chat bot), so that a waybill with that tracking number checks in at once at the gate.

The body is JSON, ``{"household": "24-2304", "code": "SF1234567890"}`` (with ``"fresh": true``
for fresh food, whose door task goes first); the answer is the
announcement (201 when made, 200 when it existed already) or ``{"error": code, "message": ...,
"suggestions": [...]}`` with a 4xx status. A bearer token lets a tool in; a staff session
too, with its CSRF token in an ``X-CSRFToken`` header (``web.auth``: every POST needs one).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from kiosk.errors import ShelfError, StoreUnavailable
from kiosk.services import expect
from web.auth import actor, login_required
from web.db import get_uow

bp = Blueprint("expected", __name__)

STATUS = {"unknown_household": 422, "code_taken": 409}  # any other refusal: 400


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
                      current_app.config["CLOCK"], actor=actor(), fresh=body.get("fresh", False))
    except StoreUnavailable:
        raise  # web.errors answers 503
    except ShelfError as exc:
        return _refused(exc.code, str(exc), STATUS.get(exc.code, 400), exc.suggestions)
    return jsonify(done.as_json()), 201 if done.created else 200


def _refused(error: str, message: str, status: int,
             suggestions: tuple[str, ...] = ()) -> Any:
    return jsonify(error=error, message=message, suggestions=list(suggestions)), status
