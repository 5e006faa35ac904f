"""Staff sign-in: sessions for pages, sessions or bearer tokens for /api/*, CSRF for forms.

Access rules are checked on the server by two decorators, ``login_required`` and
``roles_required``. A page asks an anonymous visitor to sign in; an API call, or a script
asking for JSON (shelf.js polling the grid), gets a 401 JSON answer instead.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from kiosk.config import Config, User
from kiosk.passwords import check_password, hash_password
from kiosk.store import UnitOfWork
from web.db import get_db

bp = Blueprint("auth", __name__)

View = TypeVar("View", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
# Password guessing: this many wrong passwords for one username within the window lock it.
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW = timedelta(minutes=15)
KEPT_AFTER_SIGN_OUT = ("lang",)


def shelf_config() -> Config:
    return current_app.config["SHELF"]


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    """Answer a refusal in JSON: for /api/*, and for a script that prefers JSON to HTML.

    Only the form of the refusal depends on this; who gets through never does.
    """
    offered = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return is_api_request() or offered == "application/json"


@bp.before_app_request
def load_identity() -> None:
    """Set ``g.user`` from the session and ``g.api_token`` from a valid bearer token."""
    username = session.get("user")
    g.user = next((u for u in shelf_config().users if u.username == username), None)
    g.api_token = is_api_request() and _valid_bearer(request.headers.get("Authorization", ""))


def _valid_bearer(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    presented = token.strip().encode()
    # Compare against every token, without stopping early, so timing says nothing.
    matches = [hmac.compare_digest(presented, t.encode()) for t in shelf_config().api_tokens]
    return any(matches)


def csrf_token() -> str:
    """The session's CSRF token, made on first use; forms carry it in a hidden field."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def check_csrf() -> None:
    """Refuse a POST whose form does not carry the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="missing or stale form token; reload the page and try again")


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _refuse() -> Response:
    if wants_json():
        response = jsonify(error="login required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="shelf"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(view: View) -> View:
    """Let signed-in staff through; /api/* also accepts a configured bearer token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None and not g.api_token:
            return _refuse()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[View], View]:
    """Let through only signed-in staff with one of ``roles`` (bearer tokens have no role)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return _refuse()
            if g.user.role not in roles:
                if wants_json():
                    return jsonify(error="not allowed for your role"), 403
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


@functools.cache
def _decoy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password(secrets.token_hex(16))


def authenticate(username: str, password: str) -> User | None:
    user = next((u for u in shelf_config().users if u.username == username), None)
    ok = check_password(user.password_hash if user else _decoy_hash(), password)
    return user if user and ok else None


@bp.route("/login", methods=("GET", "POST"))
def login() -> Any:
    next_url = safe_next(request.values.get("next"))
    error = None
    if request.method == "GET" and g.user is not None:
        return redirect(next_url or url_for("shelf.index"))
    error_values: dict[str, Any] = {}
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        source, now = f"login:{username.lower()}", current_app.config["CLOCK"].now()
        with UnitOfWork(get_db()) as uow:
            wait_s = uow.attempts.wait_needed(source, LOGIN_MAX_FAILURES, LOGIN_WINDOW, now)
            user = None if wait_s else authenticate(username, request.form.get("password", ""))
            if not wait_s:
                uow.attempts.add(source, user is not None, now)
        if user is not None:
            _restart_session()
            session["user"] = user.username
            return redirect(next_url or url_for("shelf.index"))
        # Never says whether the name or the password was wrong.
        error, error_values = ("login_throttled", {"seconds": wait_s}) if wait_s else (
            "login_failed", {})
    return render_template("login.html", error=error, error_values=error_values,
                           next_url=next_url, username=request.form.get("username", ""))


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    _restart_session()
    return redirect(url_for("auth.login"))


def _restart_session() -> None:
    """Drop everything but the language, and issue a fresh CSRF token."""
    kept = {k: session[k] for k in KEPT_AFTER_SIGN_OUT if k in session}
    session.clear()
    session.update(kept)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD}
