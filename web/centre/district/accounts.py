"""The district's accounts and who is lent where, for ``district_admin`` (issue 22).

``/district/accounts`` lists the district's own accounts and every lending not yet ended; the
forms do what `shelf users add NAME --role district_staff` and `shelf users assign` do at the
centre, through the same use cases (``kiosk.centre.district_staff``): add an account (its
password typed by the administrator and hashed here, one at a time, as on ``/admin/users``),
disable or enable one (a disable ends its sessions at every compound's site), lend one to a
compound for a period with a compound role and team, and end a lending now (one not yet
begun is withdrawn). ``district_staff`` reads the district but manages no one, and a
compound's own staff never reach these pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from kiosk.centre.district import compounds
from kiosk.centre.district_staff import (
    ASSIGNABLE_ROLES,
    UnknownCommunity,
    add_district_account,
    assign,
    change_district_account,
    district_accounts,
    end_assignment,
    period,
)
from kiosk.errors import ShelfError
from kiosk.passwords import MIN_PASSWORD
from kiosk.staff import DISTRICT_ROLES, StaffError
from web.auth import actor, district_office
from web.centre.db import get_pg
from web.i18n import t
from web.users import hashed_password

bp = Blueprint("district_accounts", __name__, url_prefix="/district/accounts")


def _now():
    return current_app.config["CLOCK"].now()


def _zone():
    return current_app.config["COMMUNITY"].timezone


def _refused(exc: Exception) -> Any:
    """The refusal in the page's language: what was wrong, not the core's English."""
    reason = ("unknown_community" if isinstance(exc, UnknownCommunity) else
              getattr(exc, "reason", None) or getattr(exc, "code", None) or "team")
    flash(t(f"users_err_{reason}", min=MIN_PASSWORD, teams="-"), "error")
    return redirect(url_for(".index"))


@bp.get("")
@district_office
def index() -> str:
    conn, now = get_pg(), _now()
    known = district_accounts(conn, now)
    names = {c["id"]: c["name"] or c["id"] for c in compounds(conn)}
    today = now.astimezone(_zone()).date().isoformat()
    lent = [{**a, "shown": _days(a["from"], a["until"])} for a in known["assignments"]]
    return render_template(
        "district_accounts.html", accounts=known["district"], names=names, lent=lent,
        roles=DISTRICT_ROLES, lend_roles=ASSIGNABLE_ROLES, min_password=MIN_PASSWORD,
        today=today, now=now.astimezone(UTC).isoformat())


def _days(starts: str, ends: str) -> tuple[str, str]:
    """A lending's first and last moment as people say them: whole days as their dates (the
    last day, not the midnight after it), other moments with their time."""
    start = datetime.fromisoformat(starts).astimezone(_zone())
    end = datetime.fromisoformat(ends).astimezone(_zone())
    if start.time() == end.time() == time(0):
        return start.date().isoformat(), (end - timedelta(days=1)).date().isoformat()
    return start.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M")


@bp.post("")
@district_office
def add() -> Any:
    form = request.form
    try:
        password_hash = hashed_password(form.get("password", ""))
        if password_hash is None:
            return redirect(url_for(".index"))
        member = add_district_account(get_pg(), _now(), username=form.get("username", ""),
                                      name=form.get("name", ""), role=form.get("role", ""),
                                      password_hash=password_hash, actor=actor())
    except StaffError as exc:
        return _refused(exc)
    flash(t("users_added", username=member.username), "ok")
    return redirect(url_for(".index"))


@bp.post("/<username>/disable")
@district_office
def disable(username: str) -> Any:
    return _switch(username, True, "users_disabled")


@bp.post("/<username>/enable")
@district_office
def enable(username: str) -> Any:
    return _switch(username, False, "users_enabled")


def _switch(username: str, disabled: bool, done_key: str) -> Any:
    try:
        member = change_district_account(get_pg(), _now(), username, actor=actor(),
                                         disabled=disabled)
    except StaffError as exc:
        return _refused(exc)
    flash(t(done_key, username=member.username), "ok")
    return redirect(url_for(".index"))


@bp.post("/lend")
@district_office
def lend() -> Any:
    """Lend an account to a compound from one day to another (whole days, the centre's time)."""
    form = request.form
    try:
        starts_at, ends_at = period(form.get("from", ""), form.get("until", ""), _zone())
        lent = assign(get_pg(), _now(), username=form.get("username", ""),
                      community=form.get("community", ""), role=form.get("role", ""),
                      team=form.get("team") or None, starts_at=starts_at, ends_at=ends_at,
                      actor=actor())
    except (ShelfError, ValueError) as exc:
        return _refused(exc)
    flash(t("district_acc_lent", username=lent.username, community=lent.community), "ok")
    return redirect(url_for(".index"))


@bp.post("/lent/<int:assignment>/end")
@district_office
def end(assignment: int) -> Any:
    ended = end_assignment(get_pg(), _now(), assignment, actor=actor())
    if ended is None:
        flash(t("district_acc_gone"), "error")
    else:
        flash(t("district_acc_ended", username=ended.username, community=ended.community),
              "ok")
    return redirect(url_for(".index"))
