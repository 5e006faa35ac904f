"""The staff web site: ``create_app(config)`` builds a Flask app for one community.

Nothing is built at import time. The site only reads and writes the store; it never drives
GPIO or the camera (the kiosk process owns those).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from kiosk.clock import clock_from_env
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.errors import NotAStore
from kiosk.ports import Clock, Decoder
from kiosk.services import Rules
from kiosk.staff import adopt_config_users
from kiosk.store import SqliteUnitOfWork
from web.serving import FORM_BYTES

# Everything the pages need is served by this app; nothing may come from the internet.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: Config, *, clock: Clock | None = None,
               decoder: Decoder | None = None) -> Flask:
    """Build the web app for ``config``; ``clock`` decides what "now" is (tests pass theirs).

    ``decoder`` reads the door stickers staff photograph at the door (the kiosk's own, handed
    in by the composition root: the web imports no hardware); without one, staff type the room.

    The app keeps only the sections the site needs: COMMUNITY, LAYOUT, WEB and DATABASE in
    ``app.config``, and RULES for the gate screen's keypad.
    """
    from web.gate import remember_check

    clock = clock or clock_from_env()
    try:
        conn = open_store(config)  # schema up to date and slots mirrored, even before a kiosk ran
    except NotAStore as exc:
        if not config.database.exists():
            raise  # no file at all: a wrong path, more likely than a lost database
        # A damaged file: serve all the same, so the gate screen says "out of order, see
        # staff" (web/gate.py) and the staff pages why, not the browser's "cannot connect".
        logging.getLogger(__name__).error("%s; serving the out-of-order pages", exc)
        remember_check(config.database, damaged=True)  # the gate's first poll need not check
    else:
        remember_check(config.database, damaged=False)  # again: open_store has (quick_check)
        try:  # the config's [[web.users]] of before: copied into the store, then warned about
            adopt_config_users(SqliteUnitOfWork(conn), config, clock.now())
        finally:
            conn.close()
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=config.web.secret_key,
        COMMUNITY=config.community,
        LAYOUT=config.layout,
        WEB=config.web,
        DATABASE=config.database,
        CLOCK=clock,
        # The use cases' rules, label secret included (it verifies pickup passes): only the
        # gate's endpoints use them, and those answer the gate's own display alone (web/gate.py).
        RULES=Rules.from_config(config),
        # A bigger body is refused unread (413); uploads declare their own (web.auth).
        MAX_CONTENT_LENGTH=FORM_BYTES,
    )
    secure_sessions(app, config.web.cookie_secure)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # readable Chinese in curl

    from web import auth, db, errors, gate, i18n, notices, shelf

    db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)  # deny by default: every route below declares who may open it
    if config.gate is not None:  # a gate of a compound: its centre owns the lists, the staff
        from web import owner

        owner.init_app(app)
    app.register_blueprint(shelf.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(gate.bp)
    app.after_request(security_headers)
    from web import expected  # POST /api/expected, /expected: parcels announced by tracking number

    app.register_blueprint(expected.bp)
    from web import parcels  # a parcel's record, with the camera's stills (staff only)

    app.register_blueprint(parcels.bp)
    from web import observation  # the day's observation lists: upload, check, apply, history

    app.register_blueprint(observation.bp)
    from web import counts, tasks  # door delivery on a phone; the day's counts

    tasks.init_app(app, decoder=decoder, collect_s=config.kiosk.collect_s)
    app.register_blueprint(counts.bp)
    from web import users  # staff accounts, for admins

    app.register_blueprint(users.bp)
    from web import follow  # search, the exceptions list, overdue parcels

    app.register_blueprint(follow.bp)
    from web import households  # the household list: find, see, edit, import

    app.register_blueprint(households.bp)
    from web import audit  # the shelf audit on a phone, and its printable reports

    app.register_blueprint(audit.bp)
    from web import camera  # the camera view: what the kiosk's camera sees, for aiming it

    app.register_blueprint(camera.bp)
    from web import health  # GET /healthz: the kiosk's heartbeat, the outbox, the last backup

    app.register_blueprint(health.bp)
    return app


def secure_sessions(app: Flask, cookie_secure: bool) -> None:
    """The session's cookie and Flask-Login's remember cookie, on a gate's site and the
    centre's alike: HttpOnly, SameSite=Lax, Secure always with ``[web] cookie_secure`` and
    otherwise on a request that came over HTTPS (``SecureOverHttps``: the browser then never
    sends it over plain HTTP); the signed cookie expires with the longest a session may live."""
    from web.auth import SESSION_LIFETIME

    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cookie_secure, REMEMBER_COOKIE_SECURE=cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)
    app.session_interface = SecureOverHttps()


class SecureOverHttps(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its cookie Secure whenever the request came over HTTPS.

    Behind a TLS proxy, waitress sets the scheme from the trusted proxy's X-Forwarded-Proto
    (``web.serving``), so the cookie a phone got over HTTPS never travels over plain HTTP,
    whether or not ``[web] cookie_secure`` says so.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    # frame-ancestors says it to today's browsers; X-Frame-Options to those before CSP 2.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
