"""Staff sign-in, and who may open what: deny by default, CSRF on every form.

Who may open a route is declared on its view, and checked for every request by ``guard``
before any view runs:

- ``@login_required``: any signed-in role; under ``/api/`` a configured bearer token too.
  A token is a ``[[web.tokens]]`` table: ``g.api_token`` is it, and its scope
  (``token_scope``) limits what every request made with it may touch.
- ``@roles_required("admin", ...)``: only those roles (never a bearer token).
- ``@own_credential``: callers with a credential of their own that the view checks itself (the
  compound's centre: ``/sync/v1``, each gate by its token); no session, no CSRF token.
- ``PUBLIC_ENDPOINTS``: the sign-in form, sign-out, static files, ``/healthz`` (times and
  counts only) and the gate screen (which guards itself: the gate's own display only,
  ``web/gate.py``).

A route that declares nothing is refused to everyone, admins too: a forgotten decorator fails
closed, and ``tests/test_access.py`` names it. The ``gate`` role reads and never writes: every
POST it sends to a declared route is refused (403). A page asks an anonymous visitor to sign
in; an API call, or a script asking for JSON (shelf.js polling the grid), gets a 401 JSON.

Sessions are Flask-Login's, keyed by a random token whose hash is a row of the store's
``sessions``: signing out, a disabled account or a password reset ends that row, so a copied
cookie dies with it. CSRF is Flask-WTF's CSRFProtect, checked here for every POST (the token
in the form's ``csrf_token`` field or an ``X-CSRFToken`` header), except for a request that
carries a valid bearer token (no cookie rides along: a browser cannot add that header to a
cross-site request) and the gate's JSON POSTs (below). Password guesses are throttled per
username and client address, per address across all usernames, and per network (an IPv4
/24, an IPv6 /64: addresses taken in turn); lockouts are logged and listed for admins.

The gate's ``POST /gate/code``, ``/gate/room`` and ``/gate/fresh`` carry no token: they act for
nobody (no session is read), answer only the gate's own display, and take only JSON whose
Origin (and Sec-Fetch-Site, where sent) says it comes from the gate page itself
(``web/gate.py``), which a cross-site form or script cannot send without the browser asking
first.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from kiosk.config import ApiToken, WebSettings
from kiosk.domain import TokenScope, mask_path
from kiosk.passwords import (
    check_password,
    decoy_hash,
    hash_password,
    needs_rehash,
    rounds_of,
)
from kiosk.ports import StaffMember
from kiosk.staff import DISTRICT_ROLES, ROLES, upgrade_hash
from kiosk.store import SqliteUnitOfWork, StaffSession
from kiosk.timefmt import local_time
from web.db import bookkeeping, get_uow
from web.i18n import t
from web.serving import LARGEST_UPLOAD_BYTES

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
login_manager = LoginManager()
csrf = CSRFProtect()

View = TypeVar("View", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
SESSION_FIELD = "_user_id"  # Flask-Login's key in the cookie: the sign-in's token
WEB_ACTOR = "@web"  # a signed-in member's events name them as ``li@web``
CENTRE_ACTOR = "@centre"  # ... and a gate's events, what they decided at the centre: ``li@centre``
API_ACTOR = "@api"  # a bearer token's events name it by its [[web.tokens]] name: ``bot@api``
# Open to anyone: each guards itself (the sign-in throttle; the gate's own display only).
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.logout",
                              "gate.page", "gate.state", "gate.code", "gate.room",
                              "gate.fresh", "health.healthz"})
# JSON from the gate page itself, acting for nobody: see the module's docstring.
CSRF_EXEMPT_ENDPOINTS = frozenset({"gate.code", "gate.room", "gate.fresh"})
# The district's roles read a compound's pages and act in none (an assignment lends a
# district account a compound's role where it acts: kiosk.centre.district_staff).
READ_ONLY_ROLES = frozenset({"gate", *DISTRICT_ROLES})
SITE_ROLES = (*ROLES, *DISTRICT_ROLES)  # every role a signed-in visitor can have
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCESS_ATTRIBUTE = "shelf_access"
CREDENTIAL_ATTRIBUTE = "shelf_own_credential"
UPLOAD_ATTRIBUTE = "shelf_upload_limit"
# Password guessing: this many wrong passwords within the window lock one username for one
# client address (others, and the same address with the right password elsewhere, go on) ...
LOGIN_MAX_FAILURES = 10
# ... and this many wrong sign-ins from one address, whatever the usernames, lock the address,
ADDRESS_MAX_FAILURES = 30
# ... and this many from one network (addresses taken in turn), that network.
NETWORK_MAX_FAILURES = 100
NETWORK_PREFIX = {4: 24, 6: 64}  # by IP version: the bits that name one network
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


@dataclass(frozen=True)
class Access:
    """Who may open a route: these roles, and (under /api/) a valid bearer token."""

    roles: frozenset[str]
    api_token: bool = False
    # The district office's own business (its accounts, who is lent where): the one place a
    # district role writes; in a compound it acts only through an assignment's role.
    district_office: bool = False


class StaffUser(UserMixin):
    """The signed-in member as views see it in ``g.user``: username, name, role, team."""

    def __init__(self, member: StaffMember, token: str) -> None:
        self.username = member.username
        self.name = member.name
        self.role = member.role
        self.team = member.team
        self._token = token

    def get_id(self) -> str:
        """Flask-Login's id is the session's token: ending its row ends this sign-in alone."""
        return self._token

    @property
    def read_only(self) -> bool:
        return self.role in READ_ONLY_ROLES


def web_settings() -> WebSettings:
    return current_app.config["WEB"]


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


def actor() -> str:
    """Who asks, as events name them: a bearer token by its name (``bot@api``), else the
    signed-in member (``li@web``)."""
    token = g.get("api_token")
    if token:
        return f"{token.name}{API_ACTOR}"
    user = g.get("user")
    return f"{user.username}{WEB_ACTOR}" if user is not None else f"api{WEB_ACTOR}"


def token_scope() -> TokenScope | None:
    """What the bearer token of this request may touch; None for a staff session (all)."""
    token = g.get("api_token")
    return token.scope if token else None


def client_address() -> str:
    """The address this request came from, as waitress says.

    Behind ``[web] trusted_proxy`` that is the address the proxy forwarded for; waitress
    believes no one else's X-Forwarded-For (``web.serving``): anyone can write it, and so
    pick their own throttle.
    """
    return (request.remote_addr or "unknown")[:MAX_CLIENT]


def network_of(client: str) -> str:
    """The network around ``client`` that one person may hold many addresses of: an IPv4
    /24 (a LAN), an IPv6 /64 (one link); a value that is not an address, as it is."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = NETWORK_PREFIX[address.version]
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def wants_json() -> bool:
    """Answer a refusal in JSON: for /api/*, and for a script that prefers JSON to HTML.

    Only the form of the refusal depends on this; who gets through never does.
    """
    offered = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return is_api_request() or offered == "application/json"


# --- declaring who may open a route ----------------------------------------------------------

def _declare(view: View, access: Access) -> View:
    setattr(view, ACCESS_ATTRIBUTE, access)
    return view


def login_required(view: View) -> View:
    """Let any signed-in role through (``gate`` to read only); /api/* also a bearer token."""
    return _declare(view, Access(frozenset(SITE_ROLES), api_token=True))


def district_office(view: View) -> View:
    """Let ``district_admin`` alone through, and let it write here (``Access.district_office``):
    the district's accounts and lendings, which no compound's role may touch."""
    return _declare(view, Access(frozenset({"district_admin"}), district_office=True))


def roles_required(*roles: str) -> Callable[[View], View]:
    """Let through only signed-in staff with one of ``roles`` (bearer tokens have no role)."""
    unknown = [r for r in roles if r not in SITE_ROLES]
    if unknown or not roles:
        raise ValueError(f"roles_required{roles!r}: roles are {', '.join(SITE_ROLES)}")

    def decorator(view: View) -> View:
        return _declare(view, Access(frozenset(roles)))

    return decorator


def own_credential(view: View) -> View:
    """A route its callers reach with a credential of their own, which the view checks itself
    (the centre's ``/sync/v1``: each gate's bearer token): no session is read for it, and no
    CSRF token asked, since no cookie signs its requests."""
    setattr(view, CREDENTIAL_ATTRIBUTE, True)
    return view


def upload_limit(max_bytes: int) -> Callable[[View], View]:
    """Let this route take a body of up to ``max_bytes`` (a phone's photo, a list's XLSX).

    Declared on the view, not set inside it: the CSRF check reads the form before the view
    runs, under the site's 64 KB otherwise. No route may take more than the server reads
    (``web.serving.LARGEST_UPLOAD_BYTES``).
    """
    if max_bytes > LARGEST_UPLOAD_BYTES:
        raise ValueError(f"upload_limit({max_bytes}): the server reads no body over "
                         f"LARGEST_UPLOAD_BYTES ({LARGEST_UPLOAD_BYTES}) in web/serving.py")

    def decorator(view: View) -> View:
        setattr(view, UPLOAD_ATTRIBUTE, max_bytes)
        return view

    return decorator


def declared_access(app: Flask, endpoint: str) -> Access | None:
    """What ``endpoint``'s view declares; None when it declares nothing (refused to all)."""
    view = app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTRIBUTE, None)


# --- the check before every request ----------------------------------------------------------

@bp.before_app_request
def guard() -> Response | None:
    """Load who is asking, then refuse what they may not open, then check the CSRF token."""
    g.user, g.api_token = None, None
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # no such page (404, 405), or a stylesheet: nothing to open
    if getattr(current_app.view_functions[endpoint], CREDENTIAL_ATTRIBUTE, False):
        return None  # it checks its caller's own credential (own_credential)
    g.user = current_user._get_current_object() if current_user.is_authenticated else None
    if is_api_request():
        g.api_token = _bearer_token(request.headers.get("Authorization", ""))
    if endpoint in PUBLIC_ENDPOINTS:
        if endpoint not in CSRF_EXEMPT_ENDPOINTS:
            csrf.protect()
        return None
    access = declared_access(current_app, endpoint)
    if access is None:
        log.error("%s %s: the route declares no role, so it is refused to everyone; decorate "
                  "its view with login_required or roles_required", request.method, endpoint)
        return _forbidden()
    if access.api_token and g.api_token is not None:
        return None  # a tool with a bearer token: no cookie rides along, so no CSRF token
    if g.user is None:
        return _refuse()
    if g.user.role not in access.roles:
        return _forbidden()
    if request.method not in SAFE_METHODS and g.user.read_only and not access.district_office:
        return _forbidden()
    limit = getattr(current_app.view_functions[endpoint], UPLOAD_ATTRIBUTE, None)
    if limit is not None:
        request.max_content_length = limit  # before the CSRF check reads the form
    csrf.protect()
    return None


def check_csrf() -> None:
    """Refuse a POST whose form does not carry the session's CSRF token.

    ``guard`` has already checked every POST before its view; this checks again wherever
    that check did not run (a route exempted by mistake), so a view that asks stays safe.
    """
    if not g.get("csrf_valid"):
        csrf.protect()


def _refuse() -> Response:
    if wants_json():
        response = jsonify(error="login required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="shelf"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _forbidden() -> Any:
    if wants_json():
        return jsonify(error="not allowed for your role"), 403
    return render_template("unavailable.html", message_key="refused_role"), 403


def csrf_refused(exc: CSRFError) -> Any:
    log.info("%s %s refused: %s", request.method, mask_path(request.path), exc.description)
    if wants_json():
        return jsonify(error="csrf", message=t("refused_csrf")), 400
    return render_template("unavailable.html", message_key="refused_csrf"), 400


def _bearer_token(header: str) -> ApiToken | None:
    """The configured token the header presents, or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    presented = token.strip().encode()
    # Compare against every token, without stopping early, so timing says nothing.
    tokens = web_settings().tokens
    matches = [hmac.compare_digest(presented, t.secret.encode()) for t in tokens]
    return next((t for t, match in zip(tokens, matches, strict=True) if match), None)


# --- sessions --------------------------------------------------------------------------------

def _session_key(token: str) -> str:
    """What the store keeps of a session token: its hash, so the table alone signs no one in."""
    return hashlib.sha256(token.encode()).hexdigest()


@login_manager.user_loader
def _load_user(token: str) -> StaffUser | None:
    """The member of a live session whose account is enabled and whose password is unchanged."""
    key, now = _session_key(token), _now()
    uow = get_uow()
    found = uow.sessions.get(key)  # a read outside a transaction: no lock taken
    if found is None or found.ended_at is not None:
        return None
    member = uow.staff.get(found.username)
    if (member is None or member.disabled or found.credential != str(member.credential)
            or _expired(found, now)):
        with uow:  # ended for good: enabling the account again does not revive this cookie
            uow.sessions.end(key, now)
        return None
    if now - found.last_seen >= SESSION_TOUCH_EVERY:
        with bookkeeping(uow), uow:  # bookkeeping, as attempts are
            uow.sessions.touch(key, now)
    return StaffUser(member, token)


def _expired(found: StaffSession, now: datetime) -> bool:
    return now - found.last_seen > SESSION_IDLE or now - found.created_at > SESSION_LIFETIME


def csrf_token() -> str:
    """The CSRF token forms carry in a hidden field (Flask-WTF's, signed, for this session)."""
    return generate_csrf()


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


# --- signing in ------------------------------------------------------------------------------

def authenticate(username: str, password: str) -> StaffMember | None:
    """The enabled account with this password; slow on purpose, so never inside a transaction.

    An unknown username is checked against a decoy hash, and while any account keeps a hash
    of before argon2 every check does the work of both kinds (``check_password``), so the
    time taken says nothing about which accounts exist or how they are hashed. An old
    (PBKDF2) hash that verified is replaced by the password's argon2 hash.
    """
    uow = get_uow()
    member = uow.staff.get(username)
    stored = member.password_hash if member else decoy_hash()
    legacy = max((rounds_of(m.password_hash) for m in uow.staff.all()), default=0)
    ok = check_password(stored, password, legacy_rounds=legacy)
    if member is None or not ok or member.disabled:
        return None
    if needs_rehash(member.password_hash):
        upgrade_hash(uow, _now(), member.username, member.password_hash,
                     hash_password(password))
    return member


@dataclass(frozen=True)
class Throttle:
    """One limit on wrong sign-ins: its attempts' source and how many failures it allows."""

    source: str
    max_failures: int
    username: str | None  # who a lockout keeps out; None: every username from ``client``
    client: str  # where from: an address, or a network (``192.168.1.0/24``)


def _bounded(username: str) -> str:
    """The username as stored: as typed when short, else a short digest of it."""
    if len(username) <= MAX_USERNAME:
        return username
    return "sha256:" + hashlib.sha256(username.encode()).hexdigest()[:16]


def throttles(username: str, client: str) -> tuple[Throttle, ...]:
    name, network = _bounded(username.lower()), network_of(client)
    return (Throttle(f"login:{client} {name}", LOGIN_MAX_FAILURES, name, client),
            Throttle(f"login-from:{client}", ADDRESS_MAX_FAILURES, None, client),
            Throttle(f"login-net:{network}", NETWORK_MAX_FAILURES, None, network))


def _wait_needed(uow: SqliteUnitOfWork, limits: tuple[Throttle, ...], now: datetime) -> int:
    return max(uow.attempts.wait_needed(t.source, t.max_failures, LOGIN_WINDOW, now)
               for t in limits)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in came to: the member, or the words that say why not (never which part)."""

    user: StaffMember | None
    error: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def sign_in(username: str, password: str) -> SignIn:
    """Check a sign-in; on success the session is started.

    The password hash is slow (0.1-0.15 s on a Pi) and must never hold the store's write lock,
    or a flood of wrong sign-ins stalls the kiosk's check-ins. So the throttle is read first
    (a read takes no lock), the password checked outside any transaction, and the try recorded
    in one transaction of two inserts that waits for no fsync. Tries at the same moment may
    slip a few past a limit.
    """
    username, client, now = username.strip(), client_address(), _now()
    limits = throttles(username, client)
    uow = get_uow()
    wait_s = _wait_needed(uow, limits, now)
    if wait_s:
        return SignIn(None, "login_throttled", {"seconds": wait_s})
    member = None
    if len(username) <= MAX_USERNAME and len(password) <= MAX_PASSWORD:
        if not PASSWORD_CHECKS.acquire(timeout=PASSWORD_CHECK_WAIT_S):
            return SignIn(None, "login_busy")
        try:
            member = authenticate(username, password)
        finally:
            PASSWORD_CHECKS.release()
    with bookkeeping(uow), uow:  # attempts are not worth an fsync
        for limit in limits:
            uow.attempts.add(limit.source, member is not None, now)
        _prune(uow, now)
    if member is None:
        _record_lockouts(uow, limits, now)
        return SignIn(None, "login_failed")
    token = secrets.token_urlsafe(32)
    with uow:  # with the credential read before the check: a reset meanwhile ends it at once
        if g.get("user") is not None:  # signing in again: the sign-in of before ends
            uow.sessions.end(_session_key(g.user.get_id()), now)
        uow.sessions.add(_session_key(token), member.username, str(member.credential), now)
    _restart_session()
    login_user(StaffUser(member, token))
    return SignIn(member)


def _record_lockouts(uow: SqliteUnitOfWork, limits: tuple[Throttle, ...],
                     now: datetime) -> None:
    """Record (once each) the limits that a failure has just reached, for admins and the log."""
    for limit in limits:
        wait_s = uow.attempts.wait_needed(limit.source, limit.max_failures, LOGIN_WINDOW, now)
        if not wait_s:
            continue
        with uow:
            if uow.lockouts.active(limit.username, limit.client, now):
                continue  # a try at the same moment reached it too, and recorded it
            uow.lockouts.add(limit.username, limit.client, now, now + timedelta(seconds=wait_s))
        # %r: the username is whatever was typed, control characters included.
        log.warning("sign-in locked for %s from %s for %d s after %d wrong passwords",
                    "every username" if limit.username is None else repr(limit.username),
                    limit.client, wait_s, limit.max_failures)


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
        result = sign_in(request.form.get("username", ""), request.form.get("password", ""))
        if result.user is not None:
            return redirect(next_url or url_for("shelf.index"))
        error, error_values = result.error, result.values
    return render_template("login.html", error=error, error_values=error_values,
                           next_url=next_url,
                           username=request.form.get("username", "")[:MAX_USERNAME])


@bp.post("/logout")
def logout() -> Any:
    """End this sign-in on the server (a copy of the cookie dies too), then the cookie's."""
    if g.user is not None:
        with get_uow() as uow:
            uow.sessions.end(_session_key(g.user.get_id()), _now())
    logout_user()
    _restart_session()
    return redirect(url_for("auth.login"))


@bp.get("/admin/lockouts")
@roles_required("admin")
def lockouts() -> Any:
    """Who was locked out of signing in lately, from where, and until when."""
    now = _now()
    timezone = current_app.config["COMMUNITY"].timezone
    rows = get_uow().lockouts.since(now - LOCKOUTS_SHOWN)
    shown = [{"at": local_time(x.at.isoformat(), timezone, "%m-%d %H:%M:%S"),
              "until": local_time(x.until.isoformat(), timezone, "%m-%d %H:%M:%S"),
              "username": x.username, "client": x.client, "active": x.until > now,
              "network": "/" in x.client}  # a network's lockout (network_of) names its prefix
             for x in rows]
    return render_template("lockouts.html", lockouts=shown, days=LOCKOUTS_SHOWN.days)


def _restart_session() -> None:
    """Drop everything but the language: a new sign-in gets a new CSRF token too."""
    kept = {k: session[k] for k in KEPT_AFTER_SIGN_OUT if k in session}
    session.clear()
    session.update(kept)
    g.pop(CSRF_FIELD, None)  # Flask-WTF's token for this request was of the old session


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD}


def init_app(app: Flask) -> None:
    """Sessions, CSRF and the deny-by-default check for ``app`` (before its blueprints)."""
    app.config.update(
        # ``guard`` runs the check itself, after deciding who is asking.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A staff page stays open a whole shift; the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_FIELD_NAME=CSRF_FIELD,
    )
    csrf.init_app(app)
    app.register_error_handler(CSRFError, csrf_refused)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"  # phones change networks; the store ends sessions
    app.register_blueprint(bp)
