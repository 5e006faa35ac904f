"""The compound's shelf at its centre: every gate's grid, grouped by gate, live.

Each gate's slots are drawn by the gate's own markup (``_slot.html``'s cards, one shelf at a
time), from the layout the gate reports at every sync and the parcels its records brought;
the page polls ``GET /shelf/grid`` as a gate's does (``static/shelf.js``) and swaps the grid
only when it changed. Above the gates: what was decided here and waits for a gate ("waiting
for the north gate", never shown as done) and, for administrators, the sync's alarms. Each
gate's head says when it last synced, what it has not sent, and whether its kiosk or camera
or notices need a look (``/gates`` has the details). The slots' lights stay at the gate.

The grid is read and drawn again only when what it shows may have changed
(``kiosk.centre.queries.grid_state``, the gates' heads, the language, the filter, the ages'
five minutes); most polls find it in the cache.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request
from markupsafe import Markup

from kiosk.centre.commands import waiting_commands
from kiosk.centre.gates import gate_health, quiet_minutes
from kiosk.centre.queries import compound_shelf, grid_state
from kiosk.queries import HEARTBEAT_STALE_S
from web.auth import login_required
from web.centre.db import get_pg
from web.centre.gates import admin_alarms, gate_label, gates_by_id
from web.i18n import current_language, t
from web.shelf import (
    AGES_EVERY_S,
    PARCELS_PER_CARD,
    RENDERED_GRIDS_KEPT,
    Grid,
    RenderCache,
    RenderedGrid,
    digest,
    grid_json,
    local_time,
    matches_filter,
    shelf_page,
    with_ages,
)

bp = Blueprint("shelf", __name__)  # shelf.index: where a sign-in lands, as on a gate

FILTERS = ("all", "occupied", "door", "overdue")  # a gate's, but its lights: they stay there


@bp.record_once
def _add_cache(state: Any) -> None:
    state.app.extensions["shelf.grids"] = RenderCache(RENDERED_GRIDS_KEPT)


def _community() -> str:
    return current_app.config["COMMUNITY"].id


def chosen_filter() -> str:
    asked = request.args.get("show", "all")
    return asked if asked in FILTERS else "all"


def gate_head(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What a gate's head on the grid says: its name, its last sync (to the minute), what
    it has not sent, and what needs a look."""
    health = gate_health(row, now)
    synced = health["last_sync_at"]
    beat = health["kiosk_heartbeat_age_s"]
    return {"id": row["id"], "label": gate_label(row["id"]),
            "synced": local_time(synced, "%m-%d %H:%M") if synced else None,
            "quiet_min": quiet_minutes(row, now),
            "pending": health["pending"] or 0,
            "kiosk_stale": synced is not None and (beat is None or beat > HEARTBEAT_STALE_S),
            "camera_lost": bool(health["camera_lost"]),
            "failed_notices": health["failed_notices"] or 0,
            "commands_waiting": health["commands_waiting"]}


def shelf_groups(layout: dict[str, Any], slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A gate's slots under its shelves' names (``web.shelf.group_by_shelf``'s groups), in
    the order its layout lists them; its overflow place last."""
    lang = current_language()
    names = layout.get("shelves") or {}
    groups: dict[str, dict[str, Any]] = {}
    spill = {"id": "overflow", "overflow": True, "slots": [],
             "name": (layout.get("overflow") or {}).get(lang) or t("overflow")}
    for slot in slots:
        if slot["overflow"]:
            spill["slots"].append(slot)
            continue
        shelf = slot["shelf"]
        groups.setdefault(shelf, {"id": shelf, "overflow": False, "slots": [],
                                  "name": (names.get(shelf) or {}).get(lang) or shelf
                                  or t("centre_shelf_unknown")})["slots"].append(slot)
    return [group for group in [*groups.values(), spill] if group["slots"]]


def render_grid(show: str) -> Grid:
    """The compound's grid as it is now (each card cut at ``PARCELS_PER_CARD`` parcels)."""
    now = current_app.config["CLOCK"].now()
    heads = {row["id"]: gate_head(row, now) for row in gates_by_id().values()}
    state = json.dumps([grid_state(get_pg(), _community()), heads, current_language(),
                        request.script_root, show, int(now.timestamp()) // AGES_EVERY_S,
                        g.user.role == "admin"])
    cache: RenderCache = current_app.extensions["shelf.grids"]
    rendered = cache.get(digest(state), lambda: _read_and_render(now, show, heads))
    generated_at = now.astimezone(UTC).isoformat(timespec="seconds")
    return Grid(rendered, generated_at, t("updated", time=local_time(generated_at, "%H:%M:%S")))


def _read_and_render(now: datetime, show: str,
                     heads: dict[str, dict[str, Any]]) -> RenderedGrid:
    gates = compound_shelf(get_pg(), _community(), parcels_per_slot=PARCELS_PER_CARD)
    for gate in gates:
        with_ages(gate["slots"], now)
    counts = {name: sum(1 for gate in gates for s in gate["slots"]
                        if matches_filter(s, name, gate["flags"])) for name in FILTERS}
    shown = [{**(heads.get(gate["id"]) or gate_head(gate, now)),
              "groups": shelf_groups(gate["layout"], [
                  s for s in gate["slots"] if matches_filter(s, show, gate["flags"])])}
             for gate in gates]
    html = Markup(render_template("_centre_grid.html", gates=shown, show=show, counts=counts,
                                  filters=FILTERS, alarms=admin_alarms(),
                                  waiting=waiting_commands(get_pg(), _community())))
    slots = [s for gate in gates for s in gate["slots"]]
    totals = t("centre_summary", gates=len(gates), parcels=sum(s["count"] for s in slots),
               full=sum(1 for s in slots if s["capacity"] and s["count"] >= s["capacity"]))
    return RenderedGrid(html, totals, digest(f"{totals}\n{html}"))


@bp.get("/")
@login_required
def index() -> str:
    return shelf_page("centre_shelf.html", render_grid)


@bp.get("/shelf/grid")
@login_required
def grid() -> Any:
    """The grid for shelf.js; ``?since=VERSION`` leaves the markup out when it is unchanged."""
    return grid_json(render_grid(chosen_filter()))


@bp.get("/shelf/<gate>/slot/<code>")
@login_required
def slot(gate: str, code: str) -> str:
    """Every parcel waiting in one slot of one gate: where a card's "+K more" leads."""
    found = compound_shelf(get_pg(), _community(), gate=gate[:64], slot=code[:20])
    if not found or not found[0]["slots"]:
        abort(404)
    return render_template("slot.html", slot=found[0]["slots"][0])
