"""The district's pages at the centre (issue 22): for ``district_admin`` and ``district_staff``.

``/district`` is the sub-district office's evening screen: per compound what waits now, the
oldest open door task, fresh food waiting past the escalation time, failed notices, sync
alarms and its gates' health, compounds needing attention first; ``district.js`` polls
``/district/rows`` and swaps the table in only when it changed. ``/district/counts`` and
``/district/counts.csv`` are a day of every compound (``kiosk.centre.district``), and
``/district/compound/<id>`` is one compound's shelf and gates, read-only;
``/district/search`` finds a room, a waybill or a phone's last four digits in every
compound. A compound's own staff never open these (``roles_required``): each of them sees
only their compound.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from kiosk.centre.db import one_snapshot
from kiosk.centre.district import (
    SORTS,
    compounds,
    district_counts,
    district_now,
    district_search,
    district_stamp,
    sorted_rows,
)
from kiosk.centre.district_staff import live_assignments
from kiosk.centre.queries import TOTALS, compound_shelf, open_alarms
from kiosk.queries import PERSON_COUNTS
from kiosk.staff import DISTRICT_ROLES
from kiosk.timefmt import local_time
from web.auth import roles_required
from web.centre.db import get_pg
from web.centre.district.board import Board, SharedBoard
from web.counts import safe_cell
from web.i18n import current_language, t

bp = Blueprint("district", __name__, url_prefix="/district")
POLL_MS = 15_000


@bp.record_once
def _share_the_board(state: Any) -> None:
    state.app.extensions["district_board"] = SharedBoard()


def _now():
    return current_app.config["CLOCK"].now()


def _zone():
    return current_app.config["COMMUNITY"].timezone


def _clock_time() -> str:
    return _now().astimezone(_zone()).strftime("%H:%M:%S")


def _fresh_s() -> int:
    """How long fresh food may wait for its door before it is late (the centre's [pickup])."""
    return current_app.config["RULES"].pickup.fresh_escalate_s


def _sort() -> str:
    """The order asked for (``?sort=waiting``), else compounds needing attention first."""
    sort = request.args.get("sort", "attention")
    return sort if sort in SORTS else "attention"


def _board() -> Board:
    """Each compound now (and who is lent where), as fresh as a reading begun now: shared by
    every district request (``board.SharedBoard``), computed again only when
    ``district_stamp`` (the gates' records and health, compounds, assignments, alarms) or the
    minute changed, one computation at a time."""
    conn, now = get_pg(), _now()
    minute = now.replace(second=0, microsecond=0)

    def compute() -> tuple[Any, Any]:
        with one_snapshot(conn):
            stamp = district_stamp(conn)
            rows = district_now(conn, now, fresh_escalate_s=_fresh_s())
            lent = live_assignments(conn, now)
        return (minute, stamp), (rows, lent)

    return current_app.extensions["district_board"].board((minute, district_stamp(conn)),
                                                          compute)


def _table() -> tuple[Markup, str]:
    """Each compound now as its table, rendered in the order and language asked for, and the
    table's version (a hash of what it shows, times to the minute), so a poll sends it again
    only when that changed. Twenty staff polling see one table, rendered once."""
    sort = _sort()

    def render(found: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> tuple[Markup, str]:
        rows, lent = found
        html = Markup(render_template("_district_rows.html", rows=sorted_rows(rows, sort),
                                      zone=_zone(), local_time=local_time, sort=sort,
                                      sorts=SORTS, lent=lent))
        return html, hashlib.sha256(str(html).encode()).hexdigest()[:16]

    return _board().table((sort, current_language()), render)


@bp.get("")
@roles_required(*DISTRICT_ROLES)
def index() -> str:
    table, version = _table()
    page = {"rows": url_for(".rows", sort=_sort()),
            "poll_ms": current_app.config.get("DISTRICT_POLL_MS", POLL_MS),
            "strings": {"offline": t("district_offline")}}
    return render_template("district.html", table=table, version=version,
                           updated=_clock_time(), page_data=page)


@bp.get("/rows")
@roles_required(*DISTRICT_ROLES)
def rows() -> Any:
    """The table for district.js; ``?since=VERSION`` leaves the markup out when unchanged."""
    table, version = _table()
    body: dict[str, Any] = {"version": version,
                            "updated": t("district_updated", at=_clock_time())}
    if request.args.get("since") != version:
        body["html"] = str(table)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _day() -> date:
    """The day asked for (``?date=2026-12-03``), else today in the centre's time."""
    try:
        return date.fromisoformat(request.args.get("date", "").strip())
    except ValueError:
        return _now().astimezone(_zone()).date()


@bp.get("/counts")
@roles_required(*DISTRICT_ROLES)
def counts() -> str:
    day = _day()
    return render_template(
        "district_counts.html", counts=district_counts(get_pg(), day, _zone()), day=day,
        totals=TOTALS, person_counts=PERSON_COUNTS,
        prev_url=url_for(".counts", date=(day - timedelta(days=1)).isoformat()),
        next_url=url_for(".counts", date=(day + timedelta(days=1)).isoformat()),
        csv_url=url_for(".download", date=day.isoformat()))


@bp.get("/counts.csv")
@roles_required(*DISTRICT_ROLES)
def download() -> Response:
    """The day as one table: the district, each compound, each gate, each person."""
    day = _day()
    found = district_counts(get_pg(), day, _zone())
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only after a byte-order mark
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("counts_date"), t("counts_scope"), t("district_compound"),
                     t("district_gate"), t("counts_team"), t("counts_person"),
                     *(t(f"counts_{key}") for key in TOTALS)])

    def row(scope: str, community: str, gate: str, team: str, person: str,
            numbers: dict[str, int]) -> None:
        writer.writerow([day.isoformat(), t(f"district_scope_{scope}"), safe_cell(community),
                         safe_cell(gate), safe_cell(team), safe_cell(person),
                         *(numbers.get(key, "") for key in TOTALS)])

    row("district", "", "", "", "", found["totals"])
    for compound in found["compounds"]:
        name = compound["name"] or compound["community"]
        row("compound", name, "", "", "", compound["totals"])
        for gate in compound["gates"]:
            row("gate", name, gate["gate"], "", "", gate)
    for person in found["people"]:
        row("person", person["community"], "", person["team"] or "", person["person"], person)
    response = Response(out.getvalue().encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="district-{day}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/compound/<community>")
@roles_required(*DISTRICT_ROLES)
def compound(community: str) -> str:
    """One compound as the district reads it: its gates' shelves and what needs a person."""
    conn = get_pg()
    known = {c["id"]: c for c in compounds(conn)}
    if community not in known:
        abort(404)
    health = {r["community"]: r for r in _board().rows[0]}
    gates = compound_shelf(conn, community)  # as the compound's own shelf page reads it
    lang = current_language()
    labels = {g["id"]: (g["names"] or {}).get(lang) or g["name"] or g["id"] for g in gates}
    return render_template("district_compound.html", compound=known[community],
                           row=health[community], gates=gates, labels=labels,
                           alarms=open_alarms(conn, community), zone=_zone())


@bp.get("/search")
@roles_required(*DISTRICT_ROLES)
def search() -> str:
    found = district_search(get_pg(), request.args.get("q", ""))
    return render_template("district_search.html", found=found, zone=_zone())
