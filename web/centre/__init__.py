"""The compound's site, served from the centre's PostgreSQL: ``create_centre_app(config)``.

``shelf web`` serves it when the config's ``[centre]`` names a ``database`` (``--centre``
insists on it). It answers the gates' exchanges (``/sync/v1``, each gate by its own token),
the compound's health (``/healthz``: every gate's), and the staff: sign-in with the
compound's accounts (``web.auth`` on the centre's store) and the compound's shelf, every
gate's parcels grouped by gate. The gate's own pages stay on the gate.
"""

from __future__ import annotations

from flask import Flask

from kiosk.centre.db import connect
from kiosk.centre.gates import ensure_community
from kiosk.centre.store import CentreUnitOfWork
from kiosk.clock import clock_from_env
from kiosk.config import Config
from kiosk.ports import Clock
from web import SecureOverHttps, security_headers
from web.serving import LARGEST_UPLOAD_BYTES


def create_centre_app(config: Config, *, clock: Clock | None = None) -> Flask:
    """Build the centre's site for ``config`` (its [centre] database); migrate it first."""
    assert config.centre is not None and config.centre.is_centre
    clock = clock or clock_from_env()
    with connect(config.centre.database) as conn:  # the schema up to date before any request
        ensure_community(conn, config.community.id, clock.now(), name=str(config.community.name))
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                static_url_path="/static")
    app.config.from_mapping(
        SECRET_KEY=config.web.secret_key,
        COMMUNITY=config.community,
        WEB=config.web,
        CENTRE=config.centre,
        TEAMS=config.teams,
        CLOCK=clock,
        LABEL_SECRET=config.label_secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.web.cookie_secure,
        REMEMBER_COOKIE_SECURE=config.web.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # A gate's batch (500 records, their texts capped) is far below what waitress takes.
        MAX_CONTENT_LENGTH=LARGEST_UPLOAD_BYTES,
    )
    app.session_interface = SecureOverHttps()
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    from web import auth, errors, i18n
    from web.centre import db, health, shelf, sync

    community = config.community.id
    app.config["UNIT_OF_WORK"] = lambda: CentreUnitOfWork(db.get_pg(), community)
    app.config["PERMANENT_SESSION_LIFETIME"] = auth.SESSION_LIFETIME
    db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)  # the compound's staff sign in with the centre's accounts
    app.register_blueprint(sync.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(shelf.bp)
    app.after_request(security_headers)
    return app

