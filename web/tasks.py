"""Door delivery on a phone: the team's open tasks, "collect" at the shelf, the door confirmed.

``/tasks`` lists the open door tasks of the signed-in member's team (fresh food first, then the
oldest, grouped by building), after handing over those of teams gone off duty, as ``shelf
tasks`` does. Who sees which team: a member with a team (``shelf users``: committee and
property accounts belong to a ``[[teams]]`` id) sees that team's tasks; an administrator (and
the read-only gate) sees every team's, with a filter; a committee or property account whose
team is not configured sees every team's too, and is told why (a lockdown is no time to hide
a task).

"Collect" makes the slots of the team's tasks double-blink on the shelf (``kiosk.collect``).

``/tasks/<id>`` is the door: the phone photographs the door's QR sticker (a plain file input,
which every phone's browser opens as the camera; the page shrinks the photo before sending it,
and reads it in the page where the browser has ``BarcodeDetector``), or the room is typed, and
``kiosk.tasks.act_on_door`` decides. The photo is read here by the kiosk's decoder, handed in
by the composition root (``create_app(decoder=...)``): the web imports no hardware. Any
signed-in member may open any task (a task handed over at 17:30 is still in the hands of
whoever carries it); the door, not the team, is what is checked.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from kiosk.collect import collect
from kiosk.config import Team
from kiosk.outcome import Outcome
from kiosk.ports import Decoder, Frame, Symbol
from kiosk.queries import handed_over_from, open_tasks, task_view
from kiosk.routing import local_time as wall_clock
from kiosk.routing import on_duty
from kiosk.staff import TEAM_ROLES
from kiosk.tasks import act_on_door, hand_over_due
from kiosk.timefmt import local_time
from web.actors import actor_name
from web.auth import actor, check_csrf, login_required, upload_limit
from web.db import get_db, get_uow
from web.i18n import has, local, t
from web.serving import PHOTO_UPLOAD_BYTES

bp = Blueprint("tasks", __name__)

PHOTO_MAX_PIXELS = 50_000_000  # larger is no phone photo: refused before it is decoded
# What is decoded, after a JPEG's reduction (``draft``): a 50-megapixel phone's JPEG decodes at
# half size (12.5 MP); a PNG or another format whole, 4 bytes a pixel (16 MP: 64 MB).
PHOTO_MAX_DECODED = 16_000_000
PHOTO_MAX_SIDE = 2000  # a door sticker's QR code reads well at this size, in a fraction of the time
# One photo opened, decoded and read at a time in this process: a few staff at doors keep one
# core busy, never both, and hold one decoded photo in memory, never four; the kiosk's camera
# keeps its own. A photo that cannot get its turn is told so. Always on the same thread: the
# memory one photo freed is what the next one gets (decoded on the server's four threads in
# turn, glibc's per-thread arenas would keep up to four photos' worth).
PHOTO_READS = threading.BoundedSemaphore(1)
PHOTO_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-reader")
PHOTO_READ_WAIT_S = 10
ROOM_CHARS = 8  # building or room typed: digits, a few of them
# A refused door's page answers with these; anything else was input the page could not use (422).
REFUSAL_STATUS = {"wrong_door": 409, "task_closed": 409, "task_cancelled": 409,
                  "photo_too_large": 413, "photo_too_many_pixels": 413, "busy": 503,
                  "store_unavailable": 503,
                  "storage_full": 503, "internal": 500}


@dataclass(frozen=True)
class DoorSite:
    """What the door pages need beyond the store: the photo decoder, how long "collect" lasts."""

    decoder: Decoder | None
    collect_s: int


def init_app(app: Flask, *, decoder: Decoder | None, collect_s: int) -> None:
    app.extensions["door"] = DoorSite(decoder, collect_s)
    app.register_blueprint(bp)


def _site() -> DoorSite:
    return current_app.extensions["door"]


def _rules() -> Any:
    return current_app.config["RULES"]


def _clock() -> Any:
    return current_app.config["CLOCK"]


def _teams() -> dict[str, Team]:
    return {team.id: team for team in _rules().teams}


def team_name(team_id: str | None) -> str:
    """A team as people call it (``[[teams]] name``); its id if it is no longer configured."""
    found = _teams().get(team_id or "")
    return local(found.name) if found else (team_id or t("tasks_all_teams"))


@dataclass(frozen=True)
class Scope:
    """Whose tasks the signed-in member sees: ``team`` (None: every team's)."""

    team: str | None
    own: bool  # the member's own team: no filter to choose
    teamless: bool = False  # a role that names no configured team


def scope() -> Scope:
    """The member's team, or, for an administrator (and a member of no team), the filter's."""
    teams, role, team = _teams(), g.user.role, g.user.team
    if role != "admin" and team in teams:
        return Scope(team, own=True)
    asked = request.args.get("team") or None
    return Scope(asked if asked in teams else None, own=False,
                 teamless=role in TEAM_ROLES)


def waited(since_iso: str, now: datetime) -> str:
    """How long a task has waited, in words: "47 分钟", "2 小时 5 分"."""
    minutes = max(0, int((now - datetime.fromisoformat(since_iso)).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        return t("tasks_waited_d", days=hours // 24, hours=hours % 24)
    if hours:
        return t("tasks_waited_h", hours=hours, minutes=minutes)
    return t("tasks_waited_min", minutes=minutes)


def _since(since_iso: str) -> str:
    zone = current_app.config["COMMUNITY"].timezone
    now = _clock().now()
    same_day = local_time(since_iso, zone, "%Y-%m-%d") == local_time(now.isoformat(), zone,
                                                                       "%Y-%m-%d")
    when = local_time(since_iso, zone, "%H:%M" if same_day else "%m-%d %H:%M")
    return t("tasks_since", time=when, waited=waited(since_iso, now))


@bp.app_template_global("task_since")
def task_since(since_iso: str) -> str:
    return _since(since_iso)


@bp.app_template_global("task_url")
def task_url(task: dict[str, Any]) -> str:
    """Where a door task is handled: its page (the compound's centre: its household's visit)."""
    return url_for("tasks.task", task_id=task["id"])


@bp.get("/tasks")
@login_required
def index() -> str:
    """The open tasks of the member's team, after the hand-overs due by now."""
    shown = scope()
    hand_over_due(get_uow(), _rules(), _clock())
    buildings = open_tasks(get_db(), shown.team)
    tasks = [task for group in buildings for task in group["tasks"]]
    floor = current_app.config["LAYOUT"].overflow.code
    handed = handed_over_from(get_db(), shown.team) if shown.own and shown.team else []
    return render_template(
        "tasks.html", buildings=buildings, scope=shown, teams=_teams(), floor=floor,
        task_count=len(tasks), parcel_count=sum(len(task["parcels"]) for task in tasks),
        collect_minutes=max(1, round(_site().collect_s / 60)), team_name=team_name,
        off_duty=_off_duty(shown), handed_over=handed,
        handed_to=t("hh_list_sep").join(dict.fromkeys(team_name(x["team"]) for x in handed)))


def _off_duty(shown: Scope) -> str | None:
    """The hours of the member's own team when it is off duty now (its tasks passed on)."""
    team = _teams().get(shown.team or "") if shown.own else None
    if team is None or on_duty(team, wall_clock(_clock().now(), _rules().timezone)):
        return None
    closes = "24:00" if team.closes == time.max else team.closes.strftime("%H:%M")
    return f"{team.opens.strftime('%H:%M')}-{closes}"


@bp.post("/tasks/collect")
@login_required
def collect_slots() -> Any:
    """Make the slots of the member's team's tasks double-blink on the shelf for a while."""
    check_csrf()
    shown = scope()
    hand_over_due(get_uow(), _rules(), _clock())  # at 17:31 the committee's tasks are not theirs
    done = collect(shown.team, get_uow(), _rules(), _clock(), seconds=_site().collect_s,
                   actor=actor(), source="web")
    zone = current_app.config["COMMUNITY"].timezone
    if done.slots:
        flash(t("tasks_collecting", slots="、".join(done.slots) if g.lang == "zh"
                else ", ".join(done.slots),
                until=local_time(done.until.isoformat(), zone, "%H:%M:%S")), "ok")
    if done.on_floor:
        flash(t("tasks_collect_floor", count=done.on_floor), "ok")
    if not done.parcels:
        flash(t("tasks_collect_none"), "ok")
    return redirect(url_for(".index", **({} if shown.own or not shown.team
                                          else {"team": shown.team})))


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> Any:
    return _task_page(task_id)


def _task_page(task_id: int, refusal: dict[str, Any] | None = None) -> Any:
    view = task_view(get_db(), task_id)
    if view is None:
        abort(404)
    status = 200 if refusal is None else REFUSAL_STATUS.get(refusal["code"], 422)
    shown = scope()
    page = render_template(
        "task.html", task=view, refusal=refusal, team_name=team_name, actor_name=actor_name,
        other_team=view["team"] != shown.team and shown.own,
        photo=_site().decoder is not None, photo_mb=PHOTO_UPLOAD_BYTES // (1024 * 1024),
        wrong_door=wrong_door_words(refusal) if refusal else None)
    return page, status


def wrong_door_words(refusal: dict[str, Any]) -> Markup | None:
    """ "this is 24-2403; the parcel is for 24-2304", both rooms in large type."""
    if refusal.get("code") != "wrong_door":
        return None
    room = Markup('<strong class="room room-{}">{}</strong>')
    clause = Markup('<span class="door-clause">{}</span>')
    return clause.format(Markup.escape(t("door_wrong_this")).format(
        given=room.format("given", refusal["given"]))) + clause.format(
        Markup.escape(t("door_wrong_for")).format(
            expected=room.format("expected", refusal["expected"])))


@bp.post("/tasks/<int:task_id>/door")
@login_required
@upload_limit(PHOTO_UPLOAD_BYTES)  # this route only: set before the form is read
def door(task_id: int) -> Any:
    """Confirm the door by its sticker (a photo, or what the page read) or the room typed."""
    check_csrf()
    typed = typed_door()
    if typed is None:
        read = door_in_photo()
        if isinstance(read, dict):
            return _task_page(task_id, read)
        typed = read
    outcome = act_on_door(task_id, typed, get_uow(), _rules(), _clock(), actor=actor(),
                          source="web")
    if outcome.action == "delivered":
        return redirect(url_for(".task", task_id=task_id))
    return _task_page(task_id, _refusal(outcome, task_id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    task_id = (request.view_args or {}).get("task_id")
    if task_id is None:
        return exc
    return _task_page(task_id, {"code": "photo_too_large", "text": t(
        "door_err_photo_too_large", mb=PHOTO_UPLOAD_BYTES // (1024 * 1024))})


def typed_door() -> str | None:
    """The door as the page sent it: the sticker's text read in the page, or building and room."""
    read = request.form.get("door", "").strip()
    if read:
        return read[:200]
    building = request.form.get("building", "").strip()[:ROOM_CHARS]
    room = request.form.get("room", "").strip()[:ROOM_CHARS]
    if building or room:
        return f"{building}-{room}"
    return None


def door_in_photo() -> str | dict[str, Any]:
    """The text of the code in the uploaded photo (a door sticker's first), or a refusal."""
    sent = request.files.get("photo")
    if sent is None or not sent.filename:
        return _refused("nothing")
    decoder = _site().decoder
    if decoder is None:
        return _refused("no_decoder")
    data = sent.read()
    if not PHOTO_READS.acquire(timeout=PHOTO_READ_WAIT_S):
        return _refused("busy")
    try:
        symbols = PHOTO_READER.submit(_read_photo, data, decoder).result()
    finally:
        PHOTO_READS.release()
    if isinstance(symbols, str):
        return _refused(symbols)
    texts = [s.data.decode("utf-8", "replace").strip() for s in symbols]
    if not texts:
        return _refused("no_code")
    return next((text for text in texts if text.upper().startswith("DD1:")), texts[0])


def _read_photo(data: bytes, decoder: Decoder) -> list[Symbol] | str:
    """The codes in a photo, or why it cannot be read (``photo_frame``)."""
    frame = photo_frame(data)
    return frame if isinstance(frame, str) else decoder.decode(frame)


def photo_frame(data: bytes) -> Frame | str:
    """A phone's photo as a grey frame for the decoder, at most ``PHOTO_MAX_SIDE`` a side; or
    why not: "unreadable_photo" (no image Pillow can open), "photo_too_many_pixels".

    Its size is checked from its header, before anything is decoded: no more than
    ``PHOTO_MAX_PIXELS`` in the file, no more than ``PHOTO_MAX_DECODED`` decoded. Call it
    holding ``PHOTO_READS``: what it decodes is the largest thing the site holds.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > PHOTO_MAX_PIXELS:
                return "photo_too_many_pixels"
            image.draft("L", (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))  # a JPEG decodes at 1/2, 1/4 ...
            if image.width * image.height > PHOTO_MAX_DECODED:  # a PNG decodes whole
                return "photo_too_many_pixels"
            grey = image.convert("L")
        grey.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
        return np.asarray(grey)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "unreadable_photo"


def _refused(code: str) -> dict[str, Any]:
    return {"code": code, "text": t(f"door_err_{code}")}


def _refusal(outcome: Outcome, task_id: int) -> dict[str, Any]:
    """What the page says of a refused door, in words: both rooms for a wrong door."""
    code = outcome.error or "internal"
    if code == "wrong_door":
        return {"code": code, "given": outcome.given, "expected": outcome.expected,
                "text": t("door_wrong_go", expected=outcome.expected)}
    if code == "task_closed":
        view = task_view(get_db(), task_id) or {}
        zone = current_app.config["COMMUNITY"].timezone
        when = local_time(view["closed_at"], zone, "%m-%d %H:%M") if view.get("closed_at") else ""
        return {"code": code, "text": t("door_err_task_closed", time=when,
                                        actor=actor_name(view.get("closed_by") or ""))}
    key = f"door_err_{code}"
    return {"code": code, "text": t(key if has(key) else "door_err_internal")}
