"""Staff accounts on the site, for admins: list, add, change, disable and enable, reset a password.

The same use cases as ``shelf users`` (``kiosk.staff``), each an event naming the admin; a
disable, a reset and a new role end that person's sessions at once. Passwords are typed by the
admin and hashed here, outside any transaction, one at a time (``web.auth.PASSWORD_CHECKS``).
Disabling asks first, on a page of its own (``GET .../disable``: it works without a script); a
new account is read-only (``gate``) unless the admin chooses more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.passwords import MIN_PASSWORD, hash_password
from kiosk.ports import StaffMember
from kiosk.staff import (
    ROLES,
    TEAM_ROLES,
    StaffError,
    add_staff,
    change_member,
    check_password_text,
    disable_staff,
    enable_staff,
    reset_password,
)
from web.auth import PASSWORD_CHECK_WAIT_S, PASSWORD_CHECKS, actor, roles_required
from web.db import get_uow
from web.i18n import local, t

bp = Blueprint("users", __name__, url_prefix="/admin/users")

LEAST_ROLE = "gate"  # what a new account may do unless the admin chooses more: read only


def _now() -> Any:
    return current_app.config["CLOCK"].now()


def _team_ids() -> list[str]:
    return [team.id for team in current_app.config["RULES"].teams]


def hashed_password(password: str) -> str | None:
    """The password's hash, made when this process's turn comes; None when busy (flashed)."""
    check_password_text(password)
    if not PASSWORD_CHECKS.acquire(timeout=PASSWORD_CHECK_WAIT_S):
        flash(t("login_busy"), "error")
        return None
    try:
        return hash_password(password)
    finally:
        PASSWORD_CHECKS.release()


def _refused(exc: StaffError) -> Any:
    """The refusal in the page's language: what was wrong, not the core's English."""
    key = f"users_err_{getattr(exc, 'reason', exc.code)}"
    flash(t(key, min=MIN_PASSWORD, teams="、".join(_team_ids()) if g.lang == "zh"
            else ", ".join(_team_ids())), "error")
    return redirect(url_for(".index"))


@bp.get("")
@roles_required("admin")
def index() -> str:
    return render_template("users.html", members=get_uow().staff.all(), roles=ROLES,
                           team_roles=TEAM_ROLES, teams=_team_names(), min_password=MIN_PASSWORD,
                           default_role=LEAST_ROLE)


def _team_names() -> dict[str, str]:
    return {team.id: local(team.name) for team in current_app.config["RULES"].teams}


@bp.post("")
@roles_required("admin")
def add() -> Any:
    form = request.form
    try:
        password_hash = hashed_password(form.get("password", ""))
        if password_hash is None:
            return redirect(url_for(".index"))
        member = add_staff(get_uow(), _now(), username=form.get("username", ""),
                           name=form.get("name", ""), role=form.get("role", ""),
                           team=form.get("team") or None, password_hash=password_hash,
                           actor=actor(), teams=_team_ids())
    except StaffError as exc:
        return _refused(exc)
    flash(t("users_added", username=member.username), "ok")
    return redirect(url_for(".index"))


@bp.get("/<username>/disable")
@roles_required("admin")
def confirm_disable(username: str) -> str:
    """Ask before disabling: it signs the person out everywhere, at once (no script needed)."""
    member = get_uow().staff.get(username)
    if member is None:
        abort(404)
    return render_template("users_disable.html", member=member, teams=_team_names())


@bp.post("/<username>/disable")
@roles_required("admin")
def disable(username: str) -> Any:
    return _switch(disable_staff, username, "users_disabled")


@bp.post("/<username>/enable")
@roles_required("admin")
def enable(username: str) -> Any:
    return _switch(enable_staff, username, "users_enabled")


def _switch(use_case: Callable[..., StaffMember], username: str, done_key: str) -> Any:
    """Disable or enable an account; say so, or why not."""
    try:
        member = use_case(get_uow(), _now(), username, actor())
    except StaffError as exc:
        return _refused(exc)
    flash(t(done_key, username=member.username), "ok")
    return redirect(url_for(".index"))


@bp.post("/<username>/reset")
@roles_required("admin")
def reset(username: str) -> Any:
    try:
        password_hash = hashed_password(request.form.get("password", ""))
        if password_hash is None:
            return redirect(url_for(".index"))
        member = reset_password(get_uow(), _now(), username, password_hash, actor())
    except StaffError as exc:
        return _refused(exc)
    flash(t("users_reset_done", username=member.username), "ok")
    return redirect(url_for(".index"))


@bp.post("/<username>/change")
@roles_required("admin")
def change(username: str) -> Any:
    form = request.form
    role = form.get("role") or None
    # The row's team list still shows the old team when an admin picks a teamless role: that
    # role's team is none, as the page shows it, rather than a refusal.
    team = (form.get("team") or None) if role in TEAM_ROLES else None
    try:
        before = get_uow().staff.get(username)
        member = change_member(get_uow(), _now(), username, actor=actor(), teams=_team_ids(),
                               name=form.get("name"), role=role, team=team)
    except StaffError as exc:
        return _refused(exc)
    role_changed = before is not None and before.role != member.role
    flash(t("users_changed_role" if role_changed else "users_changed",
            username=member.username), "ok")
    return redirect(url_for(".index"))
