"""The day's counts on the staff site, per team and person, and as a CSV both sides can compare.

Everything comes from ``kiosk.queries.daily_counts`` (as ``shelf counts --json`` does), for the
community's day; the compound's centre draws its own (every gate's, and each gate's totals)
with the same page and CSV (``render_counts``, ``counts_csv``). Every signed-in member sees
every team's numbers: comparing them is the point. The CSV is UTF-8 with a byte-order mark,
so Excel opens its Chinese as Chinese.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for

from kiosk.queries import PERSON_COUNTS, TEAM_COUNTS, TOTAL_COUNTS, daily_counts
from web.actors import actor_name, is_person
from web.auth import login_required
from web.db import get_db
from web.i18n import t
from web.tasks import team_name

bp = Blueprint("counts", __name__)

# Excel runs a cell starting with these as a formula: such a text is written with a quote first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def chosen_day() -> date:
    """The day asked for (``?date=2026-12-03``), else today in the community's time."""
    try:
        return date.fromisoformat(request.args.get("date", "").strip())
    except ValueError:
        zone = current_app.config["COMMUNITY"].timezone
        return current_app.config["CLOCK"].now().astimezone(zone).date()


def _counts(day: date) -> dict[str, Any]:
    zone = current_app.config["COMMUNITY"].timezone
    teams = [team.id for team in current_app.config["RULES"].teams]
    return daily_counts(get_db(), day, zone, teams)


@bp.get("/counts")
@login_required
def page() -> str:
    day = chosen_day()
    return render_counts(day, _counts(day))


def render_counts(day: date, counts: dict[str, Any]) -> str:
    """The day's counts page (a gate's, or the compound's with its ``gates``)."""
    # Couriers and residents at the gate have no account: their numbers are the gate's
    # self-service, not a person's.
    people = [row for row in counts["people"] if is_person(row["person"])]
    gate = [row for row in counts["people"] if not is_person(row["person"])]
    return render_template(
        "counts.html", counts=counts, people=people, self_service=gate, day=day,
        team_name=team_name, actor_name=actor_name,
        totals=TOTAL_COUNTS, team_counts=TEAM_COUNTS, person_counts=PERSON_COUNTS,
        prev_url=url_for(".page", date=(day - timedelta(days=1)).isoformat()),
        next_url=url_for(".page", date=(day + timedelta(days=1)).isoformat()),
        csv_url=url_for(".download", date=day.isoformat()))


@bp.get("/counts.csv")
@login_required
def download() -> Response:
    day = chosen_day()
    return counts_csv(day, _counts(day))


def counts_csv(day: date, counts: dict[str, Any]) -> Response:
    """The day's counts as one table: the totals, each gate (the compound's), each team, each
    person (a row each)."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only after a byte-order mark
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("counts_date"), t("counts_scope"), t("counts_team"), t("counts_person"),
                     t("counts_name"), *(t(f"counts_{key}") for key in TOTAL_COUNTS)])
    for scope, team, person, name, numbers in _rows(counts):
        writer.writerow([day.isoformat(), t(f"counts_scope_{scope}"), _cell(team),
                         _cell(person), _cell(name),
                         *(numbers.get(key, "") for key in TOTAL_COUNTS)])
    response = Response(out.getvalue().encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="counts-{day}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _rows(counts: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, int]]]:
    rows = [("total", "", "", "", counts["totals"])]
    rows += [("gate", "", "", gate.get("name") or gate["gate"], gate)  # the compound's
             for gate in counts.get("gates", [])]
    rows += [("team", team["team"], "", team_name(team["team"]), team)
             for team in counts["teams"]]
    rows += [("person" if is_person(person["person"]) else "self_service", person["team"] or "",
              person["person"], actor_name(person["person"]), person)
             for person in counts["people"]]
    return rows


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text
