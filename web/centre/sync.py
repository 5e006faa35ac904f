"""``POST /sync/v1``: a gate's exchange with its centre (``kiosk.sync.protocol``).

The gate is the one its bearer token names, whatever the request says (a request naming
another gate is refused, 403, and nothing of it applied); no token or an unknown one is 401.
A schema the centre does not take is 426 "upgrade required". The token is never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from kiosk.centre.db import CentreUnavailable
from kiosk.centre.gates import authenticate
from kiosk.centre.intake import exchange as apply_exchange
from kiosk.sync.protocol import NotThisGate, UpgradeRequired
from web.auth import own_credential
from web.centre.db import get_pg

bp = Blueprint("centre_sync", __name__)
log = logging.getLogger(__name__)


@bp.post("/sync/v1")
@own_credential  # the gate's bearer token, checked below; no session, no CSRF token
def exchange() -> Any:
    # The exchange's moment is its arrival, before any wait for a connection: two exchanges
    # of one gate are told apart by it (kiosk.centre.intake judges only the newest heard).
    now = current_app.config["CLOCK"].now()
    try:
        conn = get_pg()
        gate = authenticate(conn, request.headers.get("Authorization", ""))
        if gate is None:
            log.warning("sync refused from %s: no valid gate token", request.remote_addr)
            return jsonify(error="credential_refused", message="unknown gate token"), 401
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="invalid", message="a JSON object is expected"), 400
        answer = apply_exchange(conn, gate, body, now)
    except NotThisGate as exc:
        log.warning("sync refused: %s", exc)
        return jsonify(error=exc.code, message=str(exc)), 403
    except UpgradeRequired as exc:
        return jsonify(error=exc.code, message=str(exc)), 426
    except ValueError as exc:
        log.warning("sync refused: a malformed request from %s: %r", gate, exc)
        return jsonify(error="invalid", message=f"malformed request: {exc!r}"[:300]), 400
    except CentreUnavailable as exc:
        log.error("sync: %s", exc)
        return jsonify(error=exc.code, message="the centre's database is unavailable"), 503
    return jsonify(answer)
