"""A parcel's record for the staff: its whole timeline, in words, and what staff may do to it.

"No CCTV hunt": when a parcel goes missing, staff see who checked it in, where and when, every
rescan, the notices sent (and those that failed), its door task (team, handovers, the door),
moves and staff actions, its pickup, each in words in the page's language, and what the gate's
camera saw at each scan. A still is a picture of people at the gate: staff alone see it (never
the gate screen, never a bearer token), and it is kept ``[kiosk] stills_days`` days.

The actions (``kiosk.staff_actions``) are forms on this page, each with a reason: hand out
without the code (ID checked), move to another slot, return to the courier, undo a mistaken
check-in, confirm a room typed at the gate. The administrator, the committee and the property
company may act; a read-only role sees the record alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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

from kiosk import staff_actions
from kiosk.errors import ShelfError, StoreUnavailable
from kiosk.queries import parcel_story, slots_view, still_jpeg
from kiosk.staff_actions import Done
from web.actors import actor_name
from web.auth import actor, check_csrf, roles_required, safe_next
from web.db import get_db, get_uow
from web.i18n import has, t, word
from web.shelf import age_band, local_time
from web.tasks import team_name, waited

bp = Blueprint("parcels", __name__)

STAFF_ROLES = ("admin", "committee", "property")
ACTION_ROLES = STAFF_ROLES  # who may act on a parcel (a read-only role may not)
# A still does not change until it is deleted: a staff browser may keep it a while, no proxy
# may keep it at all.
STILL_CACHE_CONTROL = "private, max-age=3600"
# A refused action answers with the page and this status: the parcel moved on (409), the
# form lacked something (422), no such parcel (404).
REFUSAL_STATUS = {"not_waiting": 409, "slot_full": 409, "same_slot": 409, "room_settled": 409,
                  "unknown_parcel": 404}
REASON_CHARS = staff_actions.MAX_REASON


@bp.get("/parcels/<int:parcel_id>")
@roles_required(*STAFF_ROLES)
def timeline(parcel_id: int) -> Any:
    """The parcel, then everything that happened to it, in words; the actions below."""
    return _page(parcel_id)


def _page(parcel_id: int, refusal: dict[str, str] | None = None) -> Any:
    story = parcel_story(get_db(), parcel_id)
    if story is None:
        abort(404)
    dress(story)
    status = 200 if refusal is None else REFUSAL_STATUS.get(refusal["code"], 422)
    can_act = g.user.role in ACTION_ROLES and story["status"] == "waiting"
    return render_template("parcel.html", parcel=story, refusal=refusal, can_act=can_act,
                           slots=_move_targets(story["slot"]) if can_act else [],
                           reason_chars=REASON_CHARS), status


def dress(story: dict[str, Any]) -> None:
    """Word a parcel's story (``kiosk.queries.parcel_story``'s shape) for its page: each
    moment's name, sentence and local time (one scan's still shown once), its tasks' teams,
    how long it waited and its colour band."""
    shown: set[int] = set()
    for entry in story["entries"]:
        if entry["still_id"] in shown:  # one scan, several events: its still shown once
            entry["still"] = None
        shown.add(entry["still_id"])
        entry["what"] = event_name(entry["kind"])
        entry["words"] = describe(entry)
        entry["when"] = local_time(entry["at"], "%Y-%m-%d %H:%M:%S")
        source = entry.get("source")  # a refusal's actor is its source: said once
        entry["who"] = (t("actor_at", actor=actor_name(entry["actor"]), source=source_name(source))
                        if source and source != entry["actor"] else actor_name(entry["actor"]))
    for task in story["tasks"]:
        task["team_name"] = team_name(task["team"])
    now = current_app.config["CLOCK"].now()
    left = story["closed_at"]
    story["waited"] = waited(story["checked_in_at"],
                             datetime.fromisoformat(left) if left else now)
    story["age"] = None if left else age_band(story["checked_in_at"], now)


@bp.app_template_global("parcel_url")
def parcel_url(parcel: dict[str, Any], action: str = "timeline") -> str:
    """Where a parcel's record (or one of its actions: ``hand_out``, ``move`` ...) is."""
    return url_for(f"parcels.{action}", parcel_id=parcel["id"])


def _move_targets(current: str) -> list[dict[str, Any]]:
    """The slots a parcel may move to, each with its room left (full ones are shown, disabled)."""
    now = current_app.config["CLOCK"].now()
    targets = []
    for slot in slots_view(get_db(), now, parcels_per_slot=1):
        if slot["code"] == current:
            continue
        room = None if slot["capacity"] is None else slot["capacity"] - slot["count"]
        targets.append({"code": slot["code"], "room": room, "overflow": slot["overflow"]})
    return targets


def _act(parcel_id: int, action: Callable[..., Done], done_key: str, **form: Any) -> Any:
    """Run a staff action for the signed-in member; the record again, or the refusal on it."""
    check_csrf()
    config = current_app.config
    kwargs: dict[str, Any] = {"uow": get_uow(), "clock": config["CLOCK"],
                              "actor": actor(),
                              "reason": request.form.get("reason", "")[:REASON_CHARS * 2],
                              **form}
    if action is not staff_actions.confirm_room:
        kwargs["rules"] = config["RULES"]
    try:
        done = action(parcel_id, **kwargs)
    except StoreUnavailable:
        raise  # web/errors.py: the 503 page, nothing saved
    except ShelfError as refused:
        return _page(parcel_id, act_refusal(refused.code, str(refused)))
    flash(t(done_key, slot=done.slot, id=parcel_id), "ok")
    if done.code_withdrawn:
        flash(t("act_code_withdrawn"), "ok")
    # A list's inline form (the exceptions, the overdue parcels) goes back to its list.
    return redirect(safe_next(request.form.get("next"))
                    or url_for(".timeline", parcel_id=parcel_id))


@bp.post("/parcels/<int:parcel_id>/hand-out")
@roles_required(*ACTION_ROLES)
def hand_out(parcel_id: int) -> Any:
    """Hand the parcel out without its code: the collector's ID checked, a reason given."""
    return _act(parcel_id, staff_actions.hand_out, "act_done_hand_out",
                id_checked=request.form.get("id_checked") == "yes")


@bp.post("/parcels/<int:parcel_id>/move")
@roles_required(*ACTION_ROLES)
def move(parcel_id: int) -> Any:
    """Move the parcel to another slot; that slot lights on the shelf."""
    return _act(parcel_id, staff_actions.move, "act_done_move",
                slot_code=request.form.get("slot", "")[:20])


@bp.post("/parcels/<int:parcel_id>/return")
@roles_required(*ACTION_ROLES)
def mark_returned(parcel_id: int) -> Any:
    """Mark the parcel returned to the courier."""
    return _act(parcel_id, staff_actions.mark_returned, "act_done_return")


@bp.post("/parcels/<int:parcel_id>/undo")
@roles_required(*ACTION_ROLES)
def undo(parcel_id: int) -> Any:
    """Undo a mistaken check-in: the parcel leaves the shelf, its label may check in again."""
    return _act(parcel_id, staff_actions.undo_check_in, "act_done_undo")


@bp.post("/parcels/<int:parcel_id>/confirm-room")
@roles_required(*ACTION_ROLES)
def confirm_room(parcel_id: int) -> Any:
    """Confirm a room typed at the gate: the waybill was checked."""
    return _act(parcel_id, staff_actions.confirm_room, "act_done_confirm_room")


@bp.get("/stills/<int:event_id>.jpg")
@roles_required(*STAFF_ROLES)
def still(event_id: int) -> Any:
    """The JPEG the camera took at event ``event_id``; 404 once deleted (or if there was none)."""
    jpeg = still_jpeg(get_db(), event_id)
    if jpeg is None:
        abort(404)
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = STILL_CACHE_CONTROL
    return response


def act_refusal(code: str, message: str) -> dict[str, str]:
    """A staff action refused (here, or by the parcel's gate), in the page's words."""
    key = f"act_err_{code}"
    return {"code": code, "text": t(key) if has(key) else message}


def event_name(kind: str) -> str:
    """An event's kind in words; a kind this page does not know yet shows as it is stored."""
    key = f"event_{kind}"
    return t(key) if has(key) else kind


# What a timeline sentence may name; each ``tl_<kind>`` text uses some of these.
_PLACEHOLDERS = ("actor", "source", "slot", "from", "to", "reason", "task", "team", "days",
                 "via", "given", "notice_kind", "channel", "attempts", "error", "level", "code")


def describe(entry: dict[str, Any]) -> str:
    """One moment of a parcel's timeline as a sentence in the page's language.

    A kind without its own sentence (``tl_<kind>``) is named by ``event_name`` alone.
    """
    key = f"tl_{entry['kind']}"
    if not has(key):
        return event_name(entry["kind"])
    detail = entry.get("detail") or {}
    values = dict.fromkeys(_PLACEHOLDERS, "")
    values.update({k: v for k, v in detail.items() if k in values and v is not None})
    values["actor"] = actor_name(entry["actor"])
    values["source"] = source_name(entry.get("source") or "")
    values["slot"] = entry.get("slot") or detail.get("slot") or ""
    if values["team"]:
        values["team"] = team_name(str(values["team"]))
    if entry["kind"] == "task_handed_over":  # from one team to another (a move: slot codes)
        values["from"], values["to"] = (team_name(str(values[k])) for k in ("from", "to"))
    if entry["kind"] == "notice_fell_back":  # from one channel to another: their ids
        values["from"], values["to"] = (word("channel_", str(values[k])) for k in ("from", "to"))
    if values["notice_kind"]:
        values["notice_kind"] = word("notice_kind_", str(values["notice_kind"]))
    if values["via"]:
        values["via"] = word("via_", str(values["via"]))
    if values["channel"]:
        values["channel"] = word("channel_", str(values["channel"]))
    if entry["kind"] in ("task_cancelled", "pickup_code_revoked"):
        values["reason"] = word("why_", str(values["reason"] or "observation"))
    sentence = t(key, **values)
    if entry["kind"] == "checked_in" and detail.get("announced_by"):
        who = actor_name(str(detail["announced_by"]))
        sentence += (t("tl_announced_by", announced_by=who) if detail.get("via") == "announced"
                     else t("tl_announcement_contradicted", announced_by=who,
                            household=detail.get("announced_for", "")))
    if entry["kind"] == "checked_in" and detail.get("room_confirmed") is False:
        sentence += t("tl_room_unconfirmed")
    return sentence


def source_name(source: str) -> str:
    """Where it was done: the camera, the gate's keypad, the command line, the staff site."""
    return word("src_", source) if source else ""
