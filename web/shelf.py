"""The shelf, slot by slot: the staff page, the grid fragment it polls, one slot's full list,
and the JSON other tools read (``GET /api/slots``).

The grid is drawn in one place, ``templates/_grid.html``: the page embeds it and
``GET /shelf/grid`` sends it again, rendered the same way, for shelf.js to swap in.

On a phone, staff narrow the grid with a filter (``?show=occupied|lit|door|overdue``): the
page and the fragment it polls carry the same one, so the grid stays live and filtered. Each
card and parcel wears its age's colour band (``age_band``): waiting today, for a day or more,
for three days or more, and due back to the courier (``[pickup] return_after_days``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from kiosk.config import Layout
from kiosk.domain import HouseholdId, TokenScope
from kiosk.queries import failed_notice_count, grid_state, slot_flags, slot_view, slots_view
from kiosk.timefmt import local_time as kiosk_local_time
from web.auth import login_required, token_scope
from web.db import get_db
from web.i18n import current_language, js_strings, t

bp = Blueprint("shelf", __name__)

POLL_MS = 2000
TIME_FORMAT = "%m-%d %H:%M"
# A slot card lists this many parcels, then links to the rest: the page's size follows the
# number of slots, not the pile on the floor in a lockdown week.
PARCELS_PER_CARD = 6
RENDERED_GRIDS_KEPT = 8  # a few shelf states in each language
# The shelf page's filters: every slot, or only those with parcels, lit, holding a parcel for
# a door, or holding one that waited past OVERDUE_AFTER.
FILTERS = ("all", "occupied", "lit", "door", "overdue")
OVERDUE_AFTER = timedelta(days=1)  # not collected the day it came: overdue
LONG_AFTER = timedelta(days=3)  # the next colour band
AGES_EVERY_S = 300  # a parcel's colour band may show up to five minutes after it changed


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


def shelf_snapshot(scope: TokenScope | None = None) -> dict[str, Any]:
    """The body of ``GET /api/slots``: every waiting parcel of every slot.

    ``scope``: a tool's token lists only the parcels within it (its buildings, its carrier's
    tracking numbers); a slot's ``count`` still counts them all, as the shelf holds them.
    """
    now = _now()
    slots = slots_view(get_db(), now)
    if scope is not None:
        for slot in slots:
            slot["parcels"] = [p for p in slot["parcels"] if scope.covers(
                HouseholdId.parse(p["household"]), p["ref"] if p["kind"] == "carrier" else None)]
    return {
        "community": current_app.config["COMMUNITY"].name,
        "generated_at": _utc_text(now),
        "slots": slots,
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


def return_after() -> timedelta:
    """How long a parcel may wait before it goes back to the courier (``[pickup]``)."""
    return timedelta(days=current_app.config["RULES"].pickup.return_after_days)


def age_band(checked_in_at: str, now: datetime) -> str:
    """The colour band of a parcel that came at ``checked_in_at``: new, day, long, return."""
    waited = now - datetime.fromisoformat(checked_in_at)
    if waited >= return_after():
        return "return"
    if waited >= LONG_AFTER:
        return "long"
    return "day" if waited >= OVERDUE_AFTER else "new"


def chosen_filter() -> str:
    asked = request.args.get("show", "all")
    return asked if asked in FILTERS else "all"


def with_ages(slots: list[dict[str, Any]], now: datetime) -> None:
    """Give each card's parcels their colour band and whole days waited, and the card (by its
    oldest) its band."""
    for slot in slots:
        for parcel in slot["parcels"]:
            parcel["age"] = age_band(parcel["checked_in_at"], now)
            parcel["days"] = (now - datetime.fromisoformat(parcel["checked_in_at"])).days
        slot["age"] = slot["parcels"][0]["age"] if slot["parcels"] else None


def matches_filter(slot: dict[str, Any], show: str, flags: dict[str, dict[str, Any]]) -> bool:
    if show == "occupied":
        return slot["count"] > 0
    if show == "lit":
        return bool(slot["light"])
    if show == "door":
        return flags.get(slot["code"], {}).get("door", False)
    if show == "overdue":
        return slot["age"] not in (None, "new")
    return True


def render_grid(show: str = "all") -> Grid:
    """The grid as it is now, each slot card cut at ``PARCELS_PER_CARD`` parcels.

    ``show`` keeps only the slots a filter asks for; the counts of each filter go with it.
    The shelf is read and drawn again only when what the grid shows may have changed
    (``kiosk.queries.grid_state``, the language, the filter, and the ages' five minutes):
    most polls of most open pages find their grid in the cache after three small reads.
    """
    now = _now()
    state = json.dumps([grid_state(get_db(), now), current_language(), request.script_root,
                        show, int(now.timestamp()) // AGES_EVERY_S])
    cache: RenderCache = current_app.extensions["shelf.grids"]
    rendered = cache.get(digest(state), lambda: _read_and_render(now, show))
    generated_at = _utc_text(now)
    return Grid(rendered, generated_at, t("updated", time=local_time(generated_at, "%H:%M:%S")))


def _read_and_render(now: datetime, show: str) -> RenderedGrid:
    slots = slots_view(get_db(), now, parcels_per_slot=PARCELS_PER_CARD)
    flags = slot_flags(get_db())
    failed = failed_notice_count(get_db())
    with_ages(slots, now)
    counts = {name: sum(1 for s in slots if matches_filter(s, name, flags)) for name in FILTERS}
    shown = [s for s in slots if matches_filter(s, show, flags)]
    return _render(slots, shown, failed, show, counts)


def _render(slots: list[dict[str, Any]], shown: list[dict[str, Any]], failed_notices: int,
            show: str, counts: dict[str, int]) -> RenderedGrid:
    layout: Layout = current_app.config["LAYOUT"]
    html = Markup(render_template("_grid.html", groups=group_by_shelf(layout, shown),
                                  failed_notices=failed_notices, show=show, counts=counts,
                                  filters=FILTERS))
    totals = t("summary", **summary(slots))
    return RenderedGrid(html, totals, digest(f"{totals}\n{html}"))


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@bp.get("/")
@login_required
def index() -> str:
    return shelf_page("shelf.html", render_grid)


def shelf_page(template: str, render: Callable[[str], Grid]) -> str:
    """The shelf's page (a gate's, or the compound's at the centre: ``render`` draws its grid),
    with what shelf.js needs to keep it live: where the grid is, how often to ask."""
    show = chosen_filter()
    page_data = {"grid": url_for("shelf.grid", show=None if show == "all" else show),
                 "poll_ms": POLL_MS, "strings": js_strings()}
    return render_template(template, grid=render(show), page_data=page_data)


@bp.get("/shelf/grid")
@login_required
def grid() -> Any:
    """The grid for shelf.js; ``?since=VERSION`` leaves the markup out when it is unchanged.

    ``?show=`` is the page's filter, kept by every poll.
    """
    return grid_json(render_grid(chosen_filter()))


def grid_json(view: Grid) -> Any:
    """The grid as shelf.js takes it: its markup only when it differs from ``?since=``."""
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
    now = _now()
    found = slot_view(get_db(), now, code)
    if found is None:
        abort(404)
    with_ages([found], now)
    return render_template("slot.html", slot=found)


@bp.get("/api/slots")
@login_required
def api_slots() -> Any:
    response = jsonify(shelf_snapshot(token_scope()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("local_time")
def _local_time_filter(iso_text: str, fmt: str = TIME_FORMAT) -> str:
    return local_time(iso_text, fmt)
