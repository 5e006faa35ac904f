"""The household list on the staff site: find a household, see and edit its contacts, import
the whole list.

Who sees what (checked on the server, ``roles_required``): the staff who carry and hand out
parcels (``VIEW_ROLES``) find households, with phones and e-mail masked in lists and whole on a
household's own page, and correct a household's name, phones and e-mail there (each edit an
event naming who made it); a role not listed (the gate's read-only screen) sees nothing here.
Importing a whole list, which may also change who is under observation, is for those who keep
the list (``IMPORT_ROLES``), as the observation register is. The observation state itself is
never edited here: it changes through the observation register (``kiosk.observation``).

An upload is kept in the store by its SHA-256 (``household_files``); the preview and the
confirmation both read those bytes, and the confirmation carries the fingerprint of the
difference shown (``diff_key``): if the list or the households changed in between, nothing is
stored and the page shows the new difference.
"""

from __future__ import annotations

import re
from pathlib import PurePath
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
from werkzeug.exceptions import RequestEntityTooLarge

from kiosk import report_words
from kiosk.domain import HouseholdId, mask_email, mask_phone
from kiosk.errors import HouseholdChanged, InvalidContact, UnknownHousehold
from kiosk.households import (
    Caution,
    ImportReport,
    Refusal,
    contact_version,
    edit_household,
    import_households,
    keep_upload,
)
from kiosk.queries import (
    find_households,
    household_buildings,
    household_view,
    households_in_building,
)
from kiosk.sheets import EncodingError, ListTooLarge
from web.actors import actor_name
from web.auth import actor, check_csrf, roles_required, upload_limit
from web.db import get_db, get_uow
from web.i18n import current_language, t
from web.serving import LIST_UPLOAD_BYTES
from web.tasks import team_name
from web.uploads import deleted_text, list_body_too_large, too_large

bp = Blueprint("households", __name__)

VIEW_ROLES = ("admin", "committee", "property")  # find, see whole contacts, edit them
EDIT_ROLES = VIEW_ROLES
# The residents' committee keeps the household list; an administrator may import in its stead.
IMPORT_ROLES = ("admin", "committee")
MAX_NAME = 120
MAX_QUERY = 60
FOUND_LIMIT = 100
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _clock() -> Any:
    return current_app.config["CLOCK"]


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """Whether the signed-in member's menu shows the household list."""
    user = g.get("user")
    return {"sees_households": bool(user and user.role in VIEW_ROLES)}


# --- the list ------------------------------------------------------------------------------------

@bp.get("/households")
@roles_required(*VIEW_ROLES)
def index() -> str:
    """Buildings at a glance; a building's households (``?b=24``); or what a search finds."""
    conn = get_db()
    query = (request.args.get("q") or "").strip()[:MAX_QUERY]
    building = request.args.get("b", type=int)
    rows: list[dict[str, Any]] | None = None
    if query:
        rows = find_households(conn, query, FOUND_LIMIT + 1)
    elif building is not None:
        rows = households_in_building(conn, building)
    shown = [_masked(r) for r in rows[:FOUND_LIMIT]] if rows is not None else None
    return render_template(
        "households.html", buildings=household_buildings(conn), query=query,
        building=None if query else building, rows=shown,
        more=rows is not None and len(rows) > FOUND_LIMIT, limit=FOUND_LIMIT,
        may_import=g.user.role in IMPORT_ROLES)


def _masked(row: dict[str, Any]) -> dict[str, Any]:
    """A household as a list shows it: phones and e-mail masked."""
    return {**row, "phone": mask_phone(row["phone"]) if row["phone"] else "",
            "email": mask_email(row["email"]) if row["email"] else ""}


# --- one household -----------------------------------------------------------------------------

def _household(text: str) -> HouseholdId:
    try:
        return HouseholdId.parse(text)
    except UnknownHousehold:
        abort(404)


@bp.get("/households/<household>")
@roles_required(*VIEW_ROLES)
def household(household: str) -> Any:
    return _household_page(_household(household))


def _household_page(target: HouseholdId, *, typed: dict[str, str] | None = None,
                    error: str | None = None, status: int = 200) -> Any:
    """The household's page; after a refused edit, the form keeps what was typed."""
    view = household_view(get_db(), str(target))
    if view is None:
        abort(404)
    found = get_uow().households.get(target)
    assert found is not None  # the view found it
    return render_template(
        "household.html", h=view, typed=typed or {c: view[c] for c in ("name", "phone", "email")},
        seen=contact_version(found), error=error, may_edit=g.user.role in EDIT_ROLES,
        team_name=team_name, actor_name=actor_name), status


@bp.post("/households/<household>")
@roles_required(*EDIT_ROLES)
def edit(household: str) -> Any:
    check_csrf()
    target = _household(household)
    typed = {c: request.form.get(c, "") for c in ("name", "phone", "email")}
    try:
        done = edit_household(get_uow(), target, **typed, now=_clock().now(), actor=actor(),
                              seen=request.form.get("seen") or None)
    except InvalidContact as exc:
        return _household_page(target, typed=typed, status=400,
                               error=t(f"hh_err_{exc.code}", shown=exc.shown))
    except HouseholdChanged:
        return _household_page(target, typed=typed, status=409, error=t("hh_err_changed"))
    except UnknownHousehold:
        abort(404)
    if done.changed:
        fields = t("hh_list_sep").join(t(f"hh_col_{c}") for c in done.changed)
        flash(t("hh_saved", household=str(target), fields=fields), "ok")
    else:
        flash(t("hh_unchanged"), "ok")
    for caution in done.cautions:
        flash(caution_text(caution), "error")
    return redirect(url_for(".household", household=str(target)))


def caution_text(caution: Caution) -> str:
    """A caution in the page's language (the core's message is English)."""
    return report_words.caution_text(caution, current_language())


def refusal_text(refusal: Refusal) -> str:
    """A refused row in the page's language."""
    return report_words.refusal_text(refusal, current_language())


# --- import --------------------------------------------------------------------------------------

@bp.get("/households/import")
@roles_required(*IMPORT_ROLES)
def import_form() -> str:
    return render_template("households_import.html")


@bp.post("/households/import")
@roles_required(*IMPORT_ROLES)
@upload_limit(LIST_UPLOAD_BYTES)  # before the CSRF check reads the form; other forms keep 64 KB
def upload() -> Any:
    check_csrf()
    sent = request.files.get("list")
    if sent is None or not sent.filename:
        flash(t("hh_no_file"), "error")
        return redirect(url_for(".import_form"))
    name = PurePath(sent.filename.replace("\\", "/")).name[-MAX_NAME:] or "list"
    try:
        digest = keep_upload(sent.read(), name, get_uow(), _clock().now(), actor=actor())
    except ListTooLarge as exc:  # read at the upload, and refused: nothing kept
        flash(too_large(exc, name), "error")
        return redirect(url_for(".import_form"))
    return redirect(url_for(".preview", sha256=digest))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    return list_body_too_large(".import_form")


def _import(sha256: str, *, apply: bool, expected_diff: str | None = None
            ) -> tuple[ImportReport | None, str | None]:
    """The import of a kept upload (a preview unless ``apply``), or why it cannot be read."""
    found = get_uow().households.files.get(sha256) if SHA256_RE.match(sha256) else None
    if found is None:
        abort(404)
    name = found.name
    if found.data is None:
        return None, deleted_text()
    try:
        report = import_households(get_uow(), current_app.config["COMMUNITY"].buildings, name,
                                   _clock().now(), actor(), apply=apply,
                                   rules=current_app.config["RULES"], data=found.data,
                                   reading=found.reading, expected_diff=expected_diff)
    except EncodingError:
        return None, t("hh_import_encoding", name=name)
    except ListTooLarge as exc:  # kept before limits were checked at the upload
        return None, too_large(exc, name)
    except ValueError as exc:  # not CSV, a damaged workbook, a header without building and room
        return None, t("hh_import_unreadable", name=name, detail=str(exc))
    return report, None


@bp.get("/households/import/<sha256>")
@roles_required(*IMPORT_ROLES)
def preview(sha256: str) -> Any:
    """What an uploaded list would change now, refusals line by line, and the form to apply."""
    report, error = _import(sha256, apply=False)
    return render_template("households_preview.html", report=report, error=error,
                           sha256=sha256, shown=report.as_json() if report else None,
                           caution_text=caution_text, refusal_text=refusal_text,
                           mask_phone=mask_phone,
                           mask_email=mask_email), 200 if report else 400


@bp.post("/households/import/<sha256>")
@roles_required(*IMPORT_ROLES)
def apply(sha256: str) -> Any:
    check_csrf()
    report, error = _import(sha256, apply=True, expected_diff=request.form.get("diff_key", ""))
    if report is None:
        flash(error or "", "error")
        return redirect(url_for(".import_form"))
    if report.applied:
        flash(t("hh_import_applied", added=len(report.added), changed=len(report.changed)), "ok")
        return redirect(url_for(".index"))
    flash(t("hh_import_stale" if report.stale else "hh_import_refused"), "error")
    return redirect(url_for(".preview", sha256=sha256))
