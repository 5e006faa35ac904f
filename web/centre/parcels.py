"""A parcel's record at the compound's centre: its whole timeline wherever it was, and a
hand-out decided here.

A parcel's address at the centre is ``/parcels/<gate>/<id>``: its gate and the number that
gate gave it. A restored gate counts its numbers from an older one again, under a new epoch,
so every link also names the epoch it was made in (``?origin=``, its first 8 hex digits);
without it, the newest parcel of that number is shown and the page lists the others.

The timeline is the gate's page (``parcel.html``, ``web.parcels.dress``) on the gate's
records as they reached the centre, plus the decisions taken here about the parcel (its
hand-out, its door delivery), each saying whether its gate has applied it, is still to
("waiting for the north gate") or refused it. The stills stay on the gate. Staff may hand a
parcel out from here (ID checked, a reason): a command to its gate, shown waiting until the
gate applies it; the other actions (move, return, undo, confirm a room) are the gate's.
"""

from __future__ import annotations

import re
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

from kiosk.centre.commands import hand_out_at_centre
from kiosk.centre.follow import find_parcel, parcel_story
from kiosk.errors import ShelfError, StoreUnavailable
from web.auth import check_csrf, roles_required
from web.centre.db import get_pg
from web.centre.gates import gate_label
from web.i18n import t
from web.parcels import (
    ACTION_ROLES,
    REASON_CHARS,
    REFUSAL_STATUS,
    STAFF_ROLES,
    act_refusal,
    dress,
)
from web.shelf import local_time

bp = Blueprint("parcels", __name__)

ORIGIN = re.compile(r"[0-9a-f]{1,32}")
ORIGIN_SHOWN = 8  # hex digits of the epoch in a parcel's link: enough to tell a gate's apart


@bp.app_template_global("parcel_url")
def parcel_url(parcel: dict[str, Any], action: str = "timeline") -> str:
    """Where a parcel's record (or its hand-out) is at the centre: its gate, its number and
    the first digits of the epoch it was made in."""
    return url_for(f"parcels.{action}", gate=parcel["gate"], parcel_id=parcel["id"],
                   origin=parcel["origin"][:ORIGIN_SHOWN])


def _origin() -> str | None:
    asked = request.args.get("origin", "")
    return asked if ORIGIN.fullmatch(asked) else None


@bp.get("/parcels/<gate>/<int:parcel_id>")
@roles_required(*STAFF_ROLES)
def timeline(gate: str, parcel_id: int) -> Any:
    """The parcel, everything that happened to it at its gate, and what was decided here."""
    return _page(gate, parcel_id)


def _page(gate: str, parcel_id: int, refusal: dict[str, str] | None = None) -> Any:
    story = parcel_story(get_pg(), current_app.config["COMMUNITY"].id, gate[:64], parcel_id,
                         _origin())
    if story is None:
        abort(404)
    dress(story)
    for entry in story["entries"]:
        if entry["origin"] == "command":
            entry["words"] += " " + command_state(entry["detail"], entry["gate"])
    waiting = [c for c in story["commands"] if c["status"] == "pending"]
    status = 200 if refusal is None else REFUSAL_STATUS.get(refusal["code"], 422)
    can_act = (g.user.role in ACTION_ROLES and story["status"] == "waiting"
               and not any(c["kind"] == "hand_out" for c in waiting))
    return render_template("parcel.html", parcel=story, refusal=refusal, can_act=can_act,
                           slots=[], reason_chars=REASON_CHARS,
                           waiting_for=gate_label(gate) if waiting else None), status


def command_state(detail: dict[str, Any], gate: str) -> str:
    """Where a command stands, in words: waiting for its gate, applied, or refused (why)."""
    if detail["status"] == "pending":
        return t("centre_waiting_for", gate=gate_label(gate))
    when = local_time(detail["done_at"], "%m-%d %H:%M") if detail.get("done_at") else ""
    if detail["status"] == "applied":
        return t("centre_command_applied", gate=gate_label(gate), time=when)
    why = act_refusal(detail.get("error") or "", detail.get("message") or "")["text"]
    return t("centre_command_refused", gate=gate_label(gate), time=when, why=why)


@bp.post("/parcels/<gate>/<int:parcel_id>/hand-out")
@roles_required(*ACTION_ROLES)
def hand_out(gate: str, parcel_id: int) -> Any:
    """Hand the parcel out without its code (ID checked, a reason): a command to its gate."""
    check_csrf()
    community, now = current_app.config["COMMUNITY"].id, current_app.config["CLOCK"].now()
    found = find_parcel(get_pg(), community, gate[:64], parcel_id, _origin())
    if not found:
        abort(404)
    try:
        hand_out_at_centre(get_pg(), community, gate, found[0]["origin"], parcel_id,
                           reason=request.form.get("reason", "")[:REASON_CHARS * 2],
                           id_checked=request.form.get("id_checked") == "yes",
                           actor=g.user.username, now=now)
    except StoreUnavailable:
        raise  # the 503 page, nothing saved
    except ShelfError as refused:
        return _page(gate, parcel_id, act_refusal(refused.code, str(refused)))
    flash(t("centre_hand_out_sent", gate=gate_label(gate), id=parcel_id), "ok")
    return redirect(parcel_url({"gate": gate, "id": parcel_id, "origin": found[0]["origin"]}))
