"""The shelf, slot by slot: the staff page, the grid fragment it polls, one slot's full list,
and the JSON other tools read (``GET /api/slots``).

The grid is drawn in one place, ``templates/_grid.html``: the page embeds it and
``GET /shelf/grid`` sends it again, rendered the same way, for shelf.js to swap in.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from kiosk.config import Layout
from kiosk.queries import failed_notice_count, slot_view, slots_view
from kiosk.timefmt import local_time as kiosk_local_time
from web.auth import login_required
from web.db import get_db
from web.i18n import current_language, js_strings, t

bp = Blueprint("shelf", __name__)

POLL_MS = 2000
TIME_FORMAT = "%m-%d %H:%M"
# A slot card lists this many parcels, then links to the rest: the page's size follows the
# number of slots, not the pile on the floor in a lockdown week.
PARCELS_PER_CARD = 6
RENDERED_GRIDS_KEPT = 8  # a few shelf states in each language


@dataclass(frozen=True)
class RenderedGrid:
    """The grid's markup and summary line for one state of the shelf, in one language."""

    html: Markup
    summary: str
    version: str  # changes whenever html or summary does


@dataclass(frozen=True)
class Grid:
    """The grid as the page and the fragment send it: rendered, and when."""

    rendered: RenderedGrid
    generated_at: str  # UTC ISO-8601
    updated: str  # "updated 16:00:05" in the community's time


class RenderCache:
    """The last few rendered grids, by a fingerprint of what they were rendered from.

    Every open staff page polls every two seconds while the shelf changes a few times a
    minute: most polls find their grid here and skip the template. Shared by the server's
    threads; bounded, oldest dropped first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, RenderedGrid] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, render: Callable[[], RenderedGrid]) -> RenderedGrid:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        rendered = render()  # outside the lock: a rare double render beats a queue of waiters
        with self._lock:
            self._items[key] = rendered
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return rendered


@bp.record_once
def _add_cache(state: Any) -> None:
    state.app.extensions["shelf.grids"] = RenderCache(RENDERED_GRIDS_KEPT)


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def shelf_snapshot() -> dict[str, Any]:
    """The body of ``GET /api/slots``: every waiting parcel of every slot."""
    now = _now()
    return {
        "community": current_app.config["COMMUNITY"].name,
        "generated_at": _utc_text(now),
        "slots": slots_view(get_db(), now),
    }


def group_by_shelf(layout: Layout, slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slots under their shelf's name in configured order; the overflow place last."""
    groups: dict[str, dict[str, Any]] = {
        s.id: {"id": s.id, "name": s.name, "overflow": False, "slots": []} for s in layout.shelves
    }
    spill = {"id": layout.overflow.code, "name": layout.overflow_name, "overflow": True,
             "slots": []}
    for slot in slots:
        if slot["overflow"]:
            spill["slots"].append(slot)
            continue
        group = groups.setdefault(  # a shelf the store knows but the config lost: keep it
            slot["shelf"], {"id": slot["shelf"], "name": slot["shelf"], "overflow": False,
                            "slots": []})
        group["slots"].append(slot)
    return [g for g in [*groups.values(), spill] if g["slots"]]


def summary(slots: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "parcels": sum(s["count"] for s in slots),
        "full": sum(1 for s in slots if s["capacity"] and s["count"] >= s["capacity"]),
        "lit": sum(1 for s in slots if s["light"]),
    }


def local_time(iso_text: str, fmt: str = TIME_FORMAT) -> str:
    """A stored UTC time as the community's wall-clock time."""
    return kiosk_local_time(iso_text, current_app.config["COMMUNITY"].timezone, fmt)


def render_grid() -> Grid:
    """The grid as it is now, each slot card cut at ``PARCELS_PER_CARD`` parcels."""
    now = _now()
    slots = slots_view(get_db(), now, parcels_per_slot=PARCELS_PER_CARD)
    failed = failed_notice_count(get_db())
    # Everything the grid template reads that can change while the app runs.
    inputs = json.dumps([current_language(), request.script_root, slots, failed])
    cache: RenderCache = current_app.extensions["shelf.grids"]
    rendered = cache.get(_digest(inputs), lambda: _render(slots, failed))
    generated_at = _utc_text(now)
    return Grid(rendered, generated_at, t("updated", time=local_time(generated_at, "%H:%M:%S")))


def _render(slots: list[dict[str, Any]], failed_notices: int) -> RenderedGrid:
    layout: Layout = current_app.config["LAYOUT"]
    html = Markup(render_template("_grid.html", groups=group_by_shelf(layout, slots),
                                  failed_notices=failed_notices))
    totals = t("summary", **summary(slots))
    return RenderedGrid(html, totals, _digest(f"{totals}\n{html}"))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@bp.get("/")
@login_required
def index() -> str:
    page_data = {"grid": url_for("shelf.grid"), "poll_ms": POLL_MS, "strings": js_strings()}
    return render_template("shelf.html", grid=render_grid(), page_data=page_data)


@bp.get("/shelf/grid")
@login_required
def grid() -> Any:
    """The grid for shelf.js; ``?since=VERSION`` leaves the markup out when it is unchanged."""
    view = render_grid()
    rendered = view.rendered
    body: dict[str, str] = {"version": rendered.version, "generated_at": view.generated_at,
                            "updated": view.updated}
    if request.args.get("since") != rendered.version:
        body |= {"html": str(rendered.html), "summary": rendered.summary}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/shelf/slot/<code>")
@login_required
def slot(code: str) -> str:
    """Every parcel waiting in one slot: where a card's "+K more" leads."""
    found = slot_view(get_db(), _now(), code)
    if found is None:
        abort(404)
    return render_template("slot.html", slot=found)


@bp.get("/api/slots")
@login_required
def api_slots() -> Any:
    response = jsonify(shelf_snapshot())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("local_time")
def _local_time_filter(iso_text: str, fmt: str = TIME_FORMAT) -> str:
    return local_time(iso_text, fmt)
