"""Door delivery for the whole compound, on a phone that talks to the centre.

``/tasks`` is one list for a team: a **visit** per household, whatever gates its parcels
came to (``kiosk.centre.visits``), each parcel with its gate named; the same page as a gate's
(``tasks.html``), in the same order (fresh food first, then the oldest), with the same team
filter (``web.tasks.scope``). ``/tasks/<household>`` is that visit's door (``task.html``):
the sticker photographed or read in the page, or the room typed; the centre checks the door
at once (2304 is not 2403) and sends each gate holding a task for that household a command
to deliver it (``kiosk.centre.commands.confirm_visit``). Until a gate has applied it, the
visit stays on the list and says "waiting for the north gate", its parcels still on that
shelf; a command a gate refused (the parcels were collected meanwhile) is shown as such.
The slots' "collect" blink is the gate's own (``/tasks`` there).
"""

from __future__ import annotations

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

from kiosk.centre.commands import confirm_visit
from kiosk.centre.visits import open_visits, recent_refusals, visit_view
from kiosk.domain import HouseholdId
from kiosk.errors import ShelfError, StoreUnavailable, UnknownHousehold, WrongDoor
from web.actors import actor_name
from web.auth import CENTRE_ACTOR, check_csrf, login_required, upload_limit
from web.centre.db import get_pg
from web.centre.gates import gate_label, gates_by_id
from web.i18n import has, t
from web.parcels import act_refusal
from web.serving import PHOTO_UPLOAD_BYTES
from web.shelf import local_time
from web.tasks import (
    REFUSAL_STATUS,
    door_in_photo,
    scope,
    team_name,
    typed_door,
    wrong_door_words,
)

bp = Blueprint("tasks", __name__)


def _community() -> str:
    return current_app.config["COMMUNITY"].id


def _now() -> Any:
    return current_app.config["CLOCK"].now()


@bp.app_template_global("task_url")
def task_url(task: dict[str, Any]) -> str:
    """Where a door task is handled at the centre: its household's visit."""
    return url_for("tasks.task", task_id=task["household"])


def command_words(command: dict[str, Any]) -> str:
    """A delivery confirmed here, as the visit tells it: who, when, and where it stands."""
    gate = gate_label(command["gate"])
    if command["status"] == "pending":
        who = actor_name(f"{command['created_by']}{CENTRE_ACTOR}")
        return t("centre_delivery_waiting", actor=who,
                 time=local_time(command["created_at"], "%H:%M"), gate=gate)
    why = act_refusal(command["error"] or "", command["message"] or "")["text"]
    return t("centre_command_refused", gate=gate, why=why,
             time=local_time(command["done_at"], "%m-%d %H:%M"))


def _overflow_places() -> set[tuple[str, str]]:
    """(gate, slot) of each gate's overflow place, as its layout says."""
    return {(gate, slot["code"]) for gate, row in gates_by_id().items()
            for slot in ((row["status"] or {}).get("layout") or {}).get("slots") or []
            if slot.get("overflow")}


def _dress(visit: dict[str, Any], floors: set[tuple[str, str]]) -> None:
    """Word a visit for the list: each place as its gate and slot (the overflow place by
    name), and where its deliveries confirmed here stand."""
    on_floor = t("tasks_on_floor")
    visit["slots"] = [f"{gate_label(gate)} {on_floor if (gate, slot) in floors else slot}"
                      for gate, slot in visit["slots"]]
    for command in (*visit["waiting"], *visit["refused"]):
        command["words"] = command_words(command)


@bp.get("/tasks")
@login_required
def index() -> str:
    """The open door visits of the member's team across every gate (the gates hand their
    tasks over as teams go off duty; this list shows them as each gate last said)."""
    shown = scope()
    buildings = open_visits(get_pg(), _community(), _now(), shown.team)
    visits = [visit for group in buildings for visit in group["tasks"]]
    floors = _overflow_places()
    for visit in visits:
        _dress(visit, floors)
    refused = recent_refusals(get_pg(), _community(), _now())
    for command in refused:
        command["words"] = command_words(command)
    return render_template(
        "tasks.html", buildings=buildings, scope=shown,
        teams={team.id: team for team in current_app.config["RULES"].teams}, floor=None,
        task_count=len(visits), parcel_count=sum(len(v["parcels"]) for v in visits),
        collect_minutes=0, team_name=team_name, refused=refused)


def _household(text: str) -> str:
    try:
        return str(HouseholdId.parse(text[:40]))
    except UnknownHousehold:
        abort(404)


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str) -> Any:
    """A household's door visit: its parcels at every gate, and the door to confirm."""
    return _visit_page(_household(task_id))


def _visit_page(household: str, refusal: dict[str, Any] | None = None) -> Any:
    view = visit_view(get_pg(), _community(), household, _now())
    if view is None:
        abort(404)
    for command in (*view["waiting"], *view["refused"]):
        command["words"] = command_words(command)
    shown = scope()
    status = 200 if refusal is None else REFUSAL_STATUS.get(refusal["code"], 422)
    page = render_template(
        "task.html", task=view, refusal=refusal, team_name=team_name, actor_name=actor_name,
        other_team=shown.own and shown.team not in view["teams"],
        photo=current_app.extensions["door"].decoder is not None,
        photo_mb=PHOTO_UPLOAD_BYTES // (1024 * 1024),
        wrong_door=wrong_door_words(refusal) if refusal else None)
    return page, status


@bp.post("/tasks/<task_id>/door")
@login_required
@upload_limit(PHOTO_UPLOAD_BYTES)  # this route only: set before the form is read
def door(task_id: str) -> Any:
    """Confirm the household's door: each gate holding its parcels is told to deliver."""
    check_csrf()
    household = _household(task_id)
    typed = typed_door()
    if typed is None:
        read = door_in_photo()
        if isinstance(read, dict):
            return _visit_page(household, read)
        typed = read
    try:
        issued = confirm_visit(get_pg(), _community(), household, typed,
                               current_app.config["LABEL_SECRET"], actor=g.user.username,
                               now=_now())
    except StoreUnavailable:
        raise  # the 503 page, nothing saved
    except WrongDoor as wrong:
        return _visit_page(household, {"code": wrong.code, "given": wrong.given,
                                       "expected": wrong.expected,
                                       "text": t("door_wrong_go", expected=wrong.expected)})
    except ShelfError as refused:
        key = "centre_visit_closed" if refused.code == "task_closed" else f"door_err_{refused.code}"
        return _visit_page(household, {"code": refused.code,
                                       "text": t(key) if has(key) else str(refused)})
    gates = "、".join if g.lang == "zh" else ", ".join
    flash(t("centre_delivery_sent", gates=gates(dict.fromkeys(
        gate_label(done.gate) for done in issued))), "ok")
    return redirect(url_for(".task", task_id=household))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    task_id = (request.view_args or {}).get("task_id")
    if task_id is None:
        return exc
    return _visit_page(_household(task_id), {"code": "photo_too_large", "text": t(
        "door_err_photo_too_large", mb=PHOTO_UPLOAD_BYTES // (1024 * 1024))})
