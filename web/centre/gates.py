"""The compound's gates at its centre: each gate's health on a page, the sync's alarms, and
each gate's name as people say it (``gate_label``, for every page of the compound).

``/gates`` shows, per gate, what its last sync reported (``kiosk.centre.gates.gate_health``,
the same numbers as ``GET /healthz``: last sync, records not yet sent and the age of the
oldest, the kiosk's heartbeat, the camera, failed notices, commands not yet applied) and the
decisions taken here that wait for it. The alarms the sync raised (a gate restored from a
backup, a store copied back, a record that differs under the same key) are the
administrators': listed for them, each marked dealt with by one (``/gates/alarms/<id>/
resolve``; the centre's history keeps who did).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for

from kiosk.centre.commands import waiting_commands
from kiosk.centre.gates import gate_health, gates_of, quiet_minutes, resolve_alarm
from kiosk.centre.queries import open_alarms
from kiosk.queries import HEARTBEAT_STALE_S
from web.auth import check_csrf, login_required, roles_required
from web.centre.db import get_pg
from web.i18n import current_language, t

bp = Blueprint("gates", __name__)


def gates_by_id() -> dict[str, dict[str, Any]]:
    """The community's gates, by id, read once per request."""
    if "centre_gates" not in g:
        g.centre_gates = {row["id"]: row for row in gates_of(
            get_pg(), current_app.config["COMMUNITY"].id)}
    return g.centre_gates


@bp.app_template_global("gate_label")
def gate_label(gate: str) -> str:
    """A gate as people call it (its ``[gate] name`` in the page's language); its id when
    it has not synced its name yet."""
    row = gates_by_id().get(gate)
    if row is None:
        return gate
    names = (row["status"] or {}).get("names") or {}
    return names.get(current_language()) or row["name"] or gate


def alarm_words(alarm: dict[str, Any]) -> str:
    """An alarm of the sync in the page's words."""
    detail = alarm["detail"] or {}
    return t(f"centre_alarm_{alarm['kind']}", gate=gate_label(alarm["gate_id"]),
             lost=detail.get("lost") or 0, seq=alarm["seq"] or "")


def admin_alarms() -> list[dict[str, Any]]:
    """The open alarms, worded, for an administrator; nobody else's business."""
    if g.user.role != "admin":
        return []
    return [{**a, "words": alarm_words(a)} for a in open_alarms(
        get_pg(), current_app.config["COMMUNITY"].id)]


@bp.get("/gates")
@login_required
def index() -> str:
    now = current_app.config["CLOCK"].now()
    health = []
    for row in gates_by_id().values():
        gate = gate_health(row, now)
        beat = gate["kiosk_heartbeat_age_s"]
        health.append({**gate, "label": gate_label(row["id"]),
                       "quiet_min": quiet_minutes(row, now),
                       "kiosk_stale": gate["last_sync_at"] is not None
                       and (beat is None or beat > HEARTBEAT_STALE_S)})
    waiting = waiting_commands(get_pg(), current_app.config["COMMUNITY"].id)
    return render_template("centre_gates.html", gates=health, waiting=waiting,
                           alarms=admin_alarms())


@bp.post("/gates/alarms/<int:alarm_id>/resolve")
@roles_required("admin")
def resolve(alarm_id: int) -> Any:
    check_csrf()
    done = resolve_alarm(get_pg(), current_app.config["COMMUNITY"].id, alarm_id,
                         actor=g.user.username, now=current_app.config["CLOCK"].now())
    flash(t("centre_alarm_resolved" if done else "centre_alarm_gone"), "ok")
    return redirect(url_for(".index"))
