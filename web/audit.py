"""The shelf audit on a phone (issue 24): start it, follow the lit slot, note what differs.

``/audit`` shows the open audit: the slot blinking now (the kiosk lights it from the store:
this site never drives a pin) and what it should hold (households masked as on the gate
screen, how many each, waybill tails). Staff tap "all here" (or press the slot's button: the
page follows, polling ``/audit/state``), mark a listed parcel missing, or note an extra one
by its waybill (or without one); a waybill of a parcel the store puts in another slot is a
moved parcel. Pause, resume, end. Each audit's report (``/audit/<id>``) is a page made to be
printed. The actions are ``kiosk.audit``'s, the lists ``kiosk.audit_views``'s.

Who: the staff who act (administrator, committee, property) audit; the read-only ``gate``
role may follow an audit and read its reports, and its POSTs are refused as everywhere.
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
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk import audit
from kiosk.audit_views import audit_now, audit_report, recent_audits
from kiosk.errors import StoreUnavailable
from kiosk.ports import Clock, UnitOfWork
from web.actors import actor_name
from web.auth import actor, check_csrf, login_required, roles_required
from web.db import get_db, get_uow
from web.i18n import t, why

bp = Blueprint("audit", __name__)

AUDIT_ROLES = ("admin", "committee", "property")  # who may audit (a read-only role follows)
POLL_MS = 2000
REFUSAL_STATUS = {"audit_open": 409, "no_audit": 409, "audit_paused": 409,
                  "shelf_empty": 409, "not_current": 409, "on_list": 422, "not_listed": 422}
RECENT = 10


def _clock() -> Clock:
    return current_app.config["CLOCK"]


@bp.get("/audit")
@login_required
def page() -> Any:
    """The open audit and its slot's list, or a way to start one; the last audits' reports."""
    return _page()


def _page(refusal: str | None = None) -> Any:
    now = audit_now(get_db())
    return render_template("audit.html", now=now, recent=recent_audits(get_db(), RECENT),
                           can_act=g.user.role in AUDIT_ROLES, refusal=refusal,
                           refusal_text=refusal and (why(refusal) or refusal),
                           version=_version(now), poll_ms=POLL_MS), \
        REFUSAL_STATUS.get(refusal or "", 200)


@bp.get("/audit/state")
@login_required
def state() -> Any:
    """What the phone's page shows changes with this: it reloads when it differs."""
    return jsonify(version=_version(audit_now(get_db())))


def _version(now: dict[str, Any] | None) -> str:
    if now is None:
        return "none"
    return (f"{now['audit']}:{now['status']}:{now['slot']}:{len(now['listed'])}:"
            f"{len(now['problems'])}:{now['slots_checked']}")


@bp.post("/audit/start")
@roles_required(*AUDIT_ROLES)
def start() -> Any:
    return _act(lambda uow, clock, by: audit.start(uow, clock, by), "audit_started_flash")


@bp.post("/audit/all-here")
@roles_required(*AUDIT_ROLES)
def all_here() -> Any:
    slot = _slot()
    return _act(lambda uow, clock, by: audit.all_here(uow, clock, by, "phone", slot),
                "audit_checked_flash", slot=slot)


@bp.post("/audit/missing")
@roles_required(*AUDIT_ROLES)
def missing() -> Any:
    slot = _slot()
    try:
        parcel = int(request.form.get("parcel", ""))
    except ValueError:
        return _page("not_listed")
    return _act(lambda uow, clock, by: audit.missing(uow, clock, by, parcel, slot),
                "audit_missing_flash", slot=slot)


@bp.post("/audit/extra")
@roles_required(*AUDIT_ROLES)
def extra() -> Any:
    slot = _slot()
    waybill = request.form.get("waybill", "")[:audit.MAX_WAYBILL * 2]
    return _act(lambda uow, clock, by: audit.extra(uow, clock, by, waybill, slot),
                "audit_extra_flash", slot=slot)


@bp.post("/audit/pause")
@roles_required(*AUDIT_ROLES)
def pause() -> Any:
    return _act(lambda uow, clock, by: audit.pause(uow, clock, by), "audit_paused_flash")


@bp.post("/audit/resume")
@roles_required(*AUDIT_ROLES)
def resume() -> Any:
    return _act(lambda uow, clock, by: audit.resume(uow, clock, by), "audit_resumed_flash")


@bp.post("/audit/end")
@roles_required(*AUDIT_ROLES)
def end() -> Any:
    return _act(lambda uow, clock, by: audit.end(uow, clock, by), "audit_ended_flash")


@bp.get("/audit/<int:audit_id>")
@login_required
def report(audit_id: int) -> Any:
    """One audit's report, made to be printed: start, end, who, slots checked, problems."""
    found = audit_report(get_db(), audit_id)
    if found is None:
        abort(404)
    return render_template("audit_report.html", report=found, actor_name=actor_name)


def _slot() -> str | None:
    """The slot the page showed: an action on a slot the audit has left is refused."""
    return request.form.get("slot", "")[:20] or None


def _act(action: Callable[[UnitOfWork, Clock, str], object], done_key: str,
         **words: Any) -> Any:
    """Run an audit action for the signed-in member; the page again, or the refusal on it."""
    check_csrf()
    try:
        action(get_uow(), _clock(), actor())
    except StoreUnavailable:
        raise  # web/errors.py: the 503 page, nothing saved
    except audit.AuditRefused as refused:
        return _page(refused.code)
    flash(t(done_key, **words), "ok")
    return redirect(url_for(".page"))
