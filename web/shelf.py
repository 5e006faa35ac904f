"""The shelf, slot by slot: the staff page and the JSON it polls (``GET /api/slots``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, url_for

from kiosk.config import Layout
from kiosk.queries import slots_view
from kiosk.timefmt import local_time as kiosk_local_time
from web.auth import login_required
from web.db import get_db
from web.i18n import js_strings

bp = Blueprint("shelf", __name__)

POLL_MS = 2000
TIME_FORMAT = "%m-%d %H:%M"  # shelf.js formats check-in times the same way


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


def shelf_snapshot() -> dict[str, Any]:
    """The body of ``GET /api/slots``; the page is rendered from the same data."""
    now = _now()
    return {
        "community": current_app.config["COMMUNITY"].name,
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "slots": slots_view(get_db(), now),
    }


def group_by_shelf(layout: Layout, slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slots under their shelf's name in configured order; the overflow place last.

    shelf.js groups the polled slots by the same rule.
    """
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


@bp.get("/")
@login_required
def index() -> str:
    community, layout = current_app.config["COMMUNITY"], current_app.config["LAYOUT"]
    snapshot = shelf_snapshot()
    page_data = {
        "api": url_for("shelf.api_slots"),
        "poll_ms": POLL_MS,
        "timezone": community.timezone.key,
        "strings": js_strings(),
        "shelves": [{"id": s.id, "name": s.name} for s in layout.shelves],
        "overflow_name": layout.overflow_name,
    }
    return render_template(
        "shelf.html",
        community=community.name,
        groups=group_by_shelf(layout, snapshot["slots"]),
        totals=summary(snapshot["slots"]),
        generated_at=snapshot["generated_at"],
        page_data=page_data,
    )


@bp.get("/api/slots")
@login_required
def api_slots() -> Any:
    response = jsonify(shelf_snapshot())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("local_time")
def _local_time_filter(iso_text: str, fmt: str = TIME_FORMAT) -> str:
    return local_time(iso_text, fmt)
