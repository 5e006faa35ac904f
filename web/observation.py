"""The observation register on the staff site: upload the day's list, see what it changes,
confirm it; the lists applied; one household's history.

The upload is kept in the store by its SHA-256 (``observation_files``); the preview and the
confirmation both compute the difference from those stored bytes, and the confirmation carries
the fingerprint of the difference shown (``diff_key``): if the register changed in between,
nothing applies and the page shows the new difference. Every signed-in role may upload and look;
only ``APPLY_ROLES`` may apply, checked on the server.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePath
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from kiosk.domain import HouseholdId
from kiosk.errors import UnknownHousehold
from kiosk.observation_register import ListReport, apply_list, upload
from kiosk.ports import ListFile
from kiosk.queries import observation_history, observation_register, under_observation
from kiosk.report_words import near_text, problem_text
from kiosk.sheets import ListTooLarge
from web.actors import actor_name
from web.auth import actor, check_csrf, login_required, roles_required, upload_limit
from web.db import get_db, get_uow
from web.i18n import current_language, local, t
from web.serving import LIST_UPLOAD_BYTES
from web.uploads import deleted, list_body_too_large, too_large

bp = Blueprint("observation", __name__)

# The residents' committee keeps the list (the brief: it collects the day's changes and checks
# them against the property company's); the property company looks, uploads its own and
# compares, and an administrator may apply in either's stead.
APPLY_ROLES = ("admin", "committee")
MAX_NAME = 120
MAX_SOURCE = 40
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _clock() -> Any:
    return current_app.config["CLOCK"]


def _today() -> date:
    return _clock().now().astimezone(current_app.config["COMMUNITY"].timezone).date()


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _source(text: str | None) -> str:
    """A source as kept: printable, short."""
    return "".join(c for c in (text or "") if c.isprintable()).strip()[:MAX_SOURCE]


@bp.get("/observation")
@login_required
def register() -> str:
    conn = get_db()
    lists = observation_register(conn)
    teams = [team.id for team in current_app.config["RULES"].teams]
    earlier = sorted({x["source"] for x in lists if x["source"]} - set(teams))
    return render_template(
        "observation.html", lists=lists, under=under_observation(conn), today=_today(),
        uploads_days=current_app.config["WEB"].uploads_days,
        source=g.user.team if g.user.team in teams else "", sources=[*teams, *earlier],
        actor_name=actor_name)


@bp.post("/observation/upload")
@login_required
@upload_limit(LIST_UPLOAD_BYTES)  # before the form is read; other forms keep 64 KB
def upload_list() -> Any:
    check_csrf()
    sent = request.files.get("list")
    day = _day(request.form.get("date"))
    if sent is None or not sent.filename:
        flash(t("obs_no_file"), "error")
        return redirect(url_for(".register"))
    if day is None:
        flash(t("obs_bad_date"), "error")
        return redirect(url_for(".register"))
    name = PurePath(sent.filename.replace("\\", "/")).name[-MAX_NAME:] or "list"
    try:
        digest = upload(sent.read(), name, get_uow(), _clock(), actor=actor())
    except ListTooLarge as exc:  # read at the upload, and refused: nothing kept
        flash(too_large(exc, name), "error")
        return redirect(url_for(".register"))
    return redirect(url_for(".preview", sha256=digest, date=day.isoformat(),
                            source=_source(request.form.get("source"))))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    return list_body_too_large(".register")


def _stored(sha256: str) -> ListFile:
    """The upload ``sha256`` (404 if none); whether its bytes were deleted is the caller's."""
    found = get_uow().observation.files.get(sha256) if SHA256_RE.match(sha256) else None
    if found is None:
        abort(404)
    return found


def _dry_run(found: ListFile, day: date, source: str) -> ListReport:
    assert found.data is not None
    return apply_list(found.data, found.name, get_uow(), current_app.config["RULES"], _clock(),
                      list_date=day, source=source, actor=actor(), dry_run=True,
                      reading=found.reading)


@bp.get("/observation/list/<sha256>")
@login_required
def preview(sha256: str) -> Any:
    """What an uploaded list would change now, problems line by line, and the form to apply."""
    day = _day(request.args.get("date"))
    if day is None:
        abort(404)
    found = _stored(sha256)
    if found.data is None:
        return deleted(".register")
    report = _dry_run(found, day, _source(request.args.get("source")))
    language = current_language()
    return render_template(
        "observation_preview.html", report=report, may_apply=g.user.role in APPLY_ROLES,
        problem_text=lambda p: problem_text(p, language, day.isoformat()),
        near_text=lambda rooms: near_text(rooms, language))


@bp.post("/observation/apply")
@roles_required(*APPLY_ROLES)
def apply() -> Any:
    check_csrf()
    sha256, day = request.form.get("sha256", ""), _day(request.form.get("date"))
    source = _source(request.form.get("source"))
    if day is None:
        abort(400, description="the list's day is missing")
    found = _stored(sha256)
    if found.data is None:
        return deleted(".register")
    report = apply_list(found.data, found.name, get_uow(), current_app.config["RULES"], _clock(),
                        list_date=day, source=source, actor=actor(),
                        confirm=bool(request.form.get("confirm")),
                        expected_diff=request.form.get("diff_key", ""), reading=found.reading)
    if report.applied:
        flash(t("obs_applied", id=report.register_id, added=len(report.added),
                released=len(report.released)), "ok")
        return redirect(url_for(".register"))
    if report.already is not None:
        flash(t("obs_already", id=report.already.id, actor=actor_name(report.already.actor)),
              "ok")
        return redirect(url_for(".register"))
    flash(t("obs_stale" if report.stale else "obs_needs_confirm"), "error")
    return redirect(url_for(".preview", sha256=sha256, date=day.isoformat(), source=source))


@bp.get("/observation/file/<sha256>")
@login_required
def download(sha256: str) -> Any:
    """A list exactly as it was uploaded: what was applied can be read again (until its bytes
    are deleted, after [web] uploads_days)."""
    found = _stored(sha256)
    if found.data is None:
        return deleted(".register")
    response = Response(found.data, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = _attachment(found.name)
    return response


def _attachment(name: str) -> str:
    from urllib.parse import quote

    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "list"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"


@bp.get("/observation/household/<household>")
@login_required
def household(household: str) -> str:
    try:
        target = HouseholdId.parse(household)
    except UnknownHousehold:
        abort(404)
    found = get_uow().households.get(target)
    if found is None:
        abort(404)
    return render_template("observation_household.html", household=str(target),
                           under=found.under_observation, actor_name=actor_name,
                           uploads_days=current_app.config["WEB"].uploads_days,
                           history=observation_history(get_db(), str(target)))


@bp.app_template_global("list_source")
def list_source(source: str) -> str:
    """Where a list came from, as people say it: a team by its name, any other as typed."""
    teams = {team.id: team for team in current_app.config["RULES"].teams}
    return local(teams[source].name) if source in teams else source
