"""The compound's shelf at its centre: every gate's waiting parcels, grouped by gate.

What the centre decided and a gate has not applied yet is listed as such ("waiting for the
north gate"), never shown as done; what the sync found that needs a person (a gate restored,
a record that differs) is listed first. Every page of the compound is the next step
(search, timelines, /tasks across gates, /counts ...): this one proves the read side.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from kiosk.centre.commands import waiting_commands
from kiosk.centre.queries import compound_shelf, open_alarms
from web.auth import login_required
from web.centre.db import get_pg

bp = Blueprint("shelf", __name__)  # shelf.index: where a sign-in lands, as on a gate


@bp.get("/")
@login_required
def index() -> Any:
    community = current_app.config["COMMUNITY"].id
    conn = get_pg()
    return render_template("centre_shelf.html", gates=compound_shelf(conn, community),
                           waiting=waiting_commands(conn, community),
                           alarms=open_alarms(conn, community))
