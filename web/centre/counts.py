"""The compound's day in numbers at its centre: the gate's counts page and CSV
(``web.counts``), on every gate's events (``kiosk.centre.queries.compound_counts``: the
same totals, teams and people, summed over the gates), with each gate's totals besides."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app

from kiosk.centre.queries import compound_counts
from web.auth import login_required
from web.centre.db import get_pg
from web.centre.gates import gate_label
from web.counts import chosen_day, counts_csv, render_counts

bp = Blueprint("counts", __name__)


def _counts(day: date) -> dict[str, Any]:
    config = current_app.config
    counts = compound_counts(get_pg(), config["COMMUNITY"].id, day, config["COMMUNITY"].timezone,
                             [team.id for team in config["RULES"].teams])
    for gate in counts["gates"]:
        gate["name"] = gate_label(gate["gate"])
    return counts


@bp.get("/counts")
@login_required
def page() -> str:
    day = chosen_day()
    return render_counts(day, _counts(day))


@bp.get("/counts.csv")
@login_required
def download() -> Response:
    day = chosen_day()
    return counts_csv(day, _counts(day))
