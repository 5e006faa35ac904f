"""Staff sign-in: sessions for pages, sessions or bearer tokens for /api/*, CSRF for forms.

Access rules are checked on the server by two decorators, ``login_required`` and
``roles_required``. A page asks an anonymous visitor to sign in; an API call, or a script
asking for JSON (shelf.js polling the grid), gets a 401 JSON answer instead.

A session lives in the store (table ``sessions``); the signed cookie carries only its random
token, so signing out, a removed user or a changed password ends it on the server, and a
copied cookie dies with it. Password guesses are throttled per username and client address,
and per address across all usernames; lockouts are logged and listed for admins.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

from kiosk.config import User, WebSettings
from kiosk.passwords import ITERATIONS, check_password, hash_password
from kiosk.store import SqliteUnitOfWork, StaffSession, without_waiting_for_the_disk
from kiosk.timefmt import local_time
from web.db import get_db

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
SESSION_FIELD = "sid"  # the cookie's session token; the store keeps only its hash
# Password guessing: this many wrong passwords within the window lock one username for one
# client address (others, and the same address with the right password elsewhere, go on) ...
LOGIN_MAX_FAILURES = 10
# ... and this many wrong sign-ins from one address, whatever the usernames, lock the address.
ADDRESS_MAX_FAILURES = 30
LOGIN_WINDOW = timedelta(minutes=15)
# What anonymous visitors can make us store is bounded: longer names are refused unchecked.
MAX_USERNAME = 64
MAX_PASSWORD = 1024
MAX_CLIENT = 64
PRUNE_EVERY = timedelta(minutes=1)
LOCKOUTS_KEPT = timedelta(days=30)
LOCKOUTS_SHOWN = timedelta(days=7)
SESSION_IDLE = timedelta(hours=12)  # unused this long, a session ends
SESSION_LIFETIME = timedelta(days=7)  # and it never lasts longer than this
SESSION_TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often
# One password check at a time in this process: a flood of sign-ins then keeps one core busy,
# never all of them, and the kiosk's camera and check-ins keep theirs. A try that cannot get
# its turn within this long is told the site is busy.
PASSWORD_CHECKS = threading.BoundedSemaphore(1)
PASSWORD_CHECK_WAIT_S = 10
KEPT_AFTER_SIGN_OUT = ("lang",)


def web_settings() -> WebSettings:
    return current_app.config["WEB"]


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


def client_address() -> str:
    """The address this request came from, as the connection says.

    X-Forwarded-For is deliberately not read: any client can write it and so pick its own
    throttle. Behind a reverse proxy every client shares the proxy's address; there, wrap the
    app in werkzeug's ``ProxyFix`` with the number of proxies you trust, and ``remote_addr``
    becomes the client's again.
    """
    return (request.remote_addr or "unknown")[:MAX_CLIENT]


def wants_json() -> bool:
    """Answer a refusal in JSON: for /api/*, and for a script that prefers JSON to HTML.

    Only the form of the refusal depends on this; who gets through never does.
    """
    offered = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return is_api_request() or offered == "application/json"


@bp.before_app_request
def load_identity() -> None:
    """Set ``g.user`` from a live session and ``g.api_token`` from a valid bearer token."""
    g.user = None if request.endpoint == "static" else _session_user()
    g.api_token = is_api_request() and _valid_bearer(request.headers.get("Authorization", ""))


def _session_key(token: str) -> str:
    """What the store keeps of a session token: its hash, so the table alone signs no one in."""
    return hashlib.sha256(token.encode()).hexdigest()


def _credential(user: User) -> str:
    """A fingerprint of the user's password hash: a new password ends the old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _configured_user(username: str) -> User | None:
    return next((u for u in web_settings().users if u.username == username), None)


def _session_user() -> User | None:
    """The user of the cookie's session while it is live and the user still configured."""
    token = session.get(SESSION_FIELD)
    if not isinstance(token, str):
        return None
    key, now = _session_key(token), _now()
    uow = SqliteUnitOfWork(get_db())
    found = uow.sessions.get(key)  # a read outside a transaction: no lock taken
    if found is None or found.ended_at is not None:
        return None
    user = _configured_user(found.username)
    if user is None or found.credential != _credential(user) or _expired(found, now):
        with uow:  # ended for good: putting the user back does not revive this cookie
            uow.sessions.end(key, now)
        return None
    if now - found.last_seen >= SESSION_TOUCH_EVERY:
        with without_waiting_for_the_disk(uow.conn), uow:  # bookkeeping, as attempts are
            uow.sessions.touch(key, now)
    return user


def _expired(found: StaffSession, now: datetime) -> bool:
    return now - found.last_seen > SESSION_IDLE or now - found.created_at > SESSION_LIFETIME


def _valid_bearer(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    presented = token.strip().encode()
    # Compare against every token, without stopping early, so timing says nothing.
    matches = [hmac.compare_digest(presented, t.encode()) for t in web_settings().api_tokens]
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
    """``target`` when it is a path on this site, else None (no open redirects).

    Control characters (CR/LF) are refused too: they cannot go into a Location header.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
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
def _decoy_hash(iterations: int) -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password(secrets.token_hex(16), iterations)


def _decoy_for(users: tuple[User, ...]) -> str:
    """A decoy as costly as the configured users' hashes (``pbkdf2_sha256$ROUNDS$...``)."""
    rounds = [int(f[1]) for f in (u.password_hash.split("$") for u in users)
              if len(f) == 4 and f[1].isdigit()]
    return _decoy_hash(max(rounds, default=ITERATIONS))


def authenticate(username: str, password: str) -> User | None:
    """The configured user with this password; slow on purpose, so never inside a transaction."""
    user = _configured_user(username)
    stored = user.password_hash if user else _decoy_for(web_settings().users)
    ok = check_password(stored, password)
    return user if user and ok else None


@dataclass(frozen=True)
class Throttle:
    """One limit on wrong sign-ins: its attempts' source and how many failures it allows."""

    source: str
    max_failures: int
    username: str | None  # who a lockout keeps out; None: every username from the address


def _bounded(username: str) -> str:
    """The username as stored: as typed when short, else a short digest of it."""
    if len(username) <= MAX_USERNAME:
        return username
    return "sha256:" + hashlib.sha256(username.encode()).hexdigest()[:16]


def throttles(username: str, client: str) -> tuple[Throttle, ...]:
    name = _bounded(username.lower())
    return (Throttle(f"login:{client} {name}", LOGIN_MAX_FAILURES, name),
            Throttle(f"login-from:{client}", ADDRESS_MAX_FAILURES, None))


def _wait_needed(uow: SqliteUnitOfWork, limits: tuple[Throttle, ...], now: datetime) -> int:
    return max(uow.attempts.wait_needed(t.source, t.max_failures, LOGIN_WINDOW, now)
               for t in limits)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in came to: the user, or the words that say why not (never which part)."""

    user: User | None
    error: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def sign_in(username: str, password: str) -> SignIn:
    """Check a sign-in; on success the session is started.

    The password hash is slow (0.15 s on a Pi) and must never hold the store's write lock, or
    a flood of wrong sign-ins stalls the kiosk's check-ins. So the throttle is read first (a
    read takes no lock), the password checked outside any transaction, and the try recorded
    in one transaction of two inserts that waits for no fsync. Tries at the same moment may
    slip a few past a limit.
    """
    username, client, now = username.strip(), client_address(), _now()
    limits = throttles(username, client)
    uow = SqliteUnitOfWork(get_db())
    wait_s = _wait_needed(uow, limits, now)
    if wait_s:
        return SignIn(None, "login_throttled", {"seconds": wait_s})
    user = None
    if len(username) <= MAX_USERNAME and len(password) <= MAX_PASSWORD:
        if not PASSWORD_CHECKS.acquire(timeout=PASSWORD_CHECK_WAIT_S):
            return SignIn(None, "login_busy")
        try:
            user = authenticate(username, password)
        finally:
            PASSWORD_CHECKS.release()
    with without_waiting_for_the_disk(uow.conn), uow:  # attempts are not worth an fsync
        for limit in limits:
            uow.attempts.add(limit.source, user is not None, now)
        _prune(uow, now)
    if user is None:
        _record_lockouts(uow, limits, client, now)
        return SignIn(None, "login_failed")
    token = secrets.token_urlsafe(32)
    with uow:
        uow.sessions.add(_session_key(token), user.username, _credential(user), now)
    _restart_session()
    session[SESSION_FIELD] = token
    return SignIn(user)


def _record_lockouts(uow: SqliteUnitOfWork, limits: tuple[Throttle, ...], client: str,
                     now: datetime) -> None:
    """Record (once each) the limits that a failure has just reached, for admins and the log."""
    for limit in limits:
        wait_s = uow.attempts.wait_needed(limit.source, limit.max_failures, LOGIN_WINDOW, now)
        if not wait_s:
            continue
        with uow:
            if uow.lockouts.active(limit.username, client, now):
                continue  # a try at the same moment reached it too, and recorded it
            uow.lockouts.add(limit.username, client, now, now + timedelta(seconds=wait_s))
        # %r: the username is whatever was typed, control characters included.
        log.warning("sign-in locked for %s from %s for %d s after %d wrong passwords",
                    "every username" if limit.username is None else repr(limit.username),
                    client, wait_s, limit.max_failures)


def _prune(uow: SqliteUnitOfWork, now: datetime) -> None:
    """Forget what no limit or session can use any more; at most once a minute."""
    state = current_app.extensions.setdefault("auth", {})
    last = state.get("pruned_at")
    if last is not None and now - last < PRUNE_EVERY:
        return
    state["pruned_at"] = now
    uow.attempts.prune("login", now - LOGIN_WINDOW)
    uow.sessions.prune(now - SESSION_LIFETIME, now - SESSION_IDLE)
    uow.lockouts.prune(now - LOCKOUTS_KEPT)


@bp.route("/login", methods=("GET", "POST"))
def login() -> Any:
    next_url = safe_next(request.values.get("next"))
    error = None
    if request.method == "GET" and g.user is not None:
        return redirect(next_url or url_for("shelf.index"))
    error_values: dict[str, Any] = {}
    if request.method == "POST":
        check_csrf()
        result = sign_in(request.form.get("username", ""), request.form.get("password", ""))
        if result.user is not None:
            return redirect(next_url or url_for("shelf.index"))
        error, error_values = result.error, result.values
    return render_template("login.html", error=error, error_values=error_values,
                           next_url=next_url,
                           username=request.form.get("username", "")[:MAX_USERNAME])


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    token = session.get(SESSION_FIELD)
    if isinstance(token, str):
        with SqliteUnitOfWork(get_db()) as uow:
            uow.sessions.end(_session_key(token), _now())
    _restart_session()
    return redirect(url_for("auth.login"))


@bp.get("/admin/lockouts")
@roles_required("admin")
def lockouts() -> Any:
    """Who was locked out of signing in lately, from where, and until when."""
    now = _now()
    timezone = current_app.config["COMMUNITY"].timezone
    rows = SqliteUnitOfWork(get_db()).lockouts.since(now - LOCKOUTS_SHOWN)
    shown = [{"at": local_time(x.at.isoformat(), timezone, "%m-%d %H:%M:%S"),
              "until": local_time(x.until.isoformat(), timezone, "%m-%d %H:%M:%S"),
              "username": x.username, "client": x.client, "active": x.until > now}
             for x in rows]
    return render_template("lockouts.html", lockouts=shown, days=LOCKOUTS_SHOWN.days)


def _restart_session() -> None:
    """Drop everything but the language, and issue a fresh CSRF token."""
    kept = {k: session[k] for k in KEPT_AFTER_SIGN_OUT if k in session}
    session.clear()
    session.update(kept)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD}
