"""Notices that gave up: listed for the staff, and sent again once the channel works.

The staff page's grid carries a banner while any notice has given up (``_grid.html``), so a
resident who never got a pickup code is noticed; this page lists them and requeues them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from kiosk.notices.delivery import requeue_failed
from kiosk.queries import failed_notices
from web.auth import actor, check_csrf, login_required
from web.db import get_db, get_uow
from web.i18n import t, word

bp = Blueprint("notices", __name__)


@bp.get("/notices/failed")
@login_required
def failed() -> str:
    notices = failed_notices(get_db())
    for notice in notices:
        notice["channel_name"] = word("channel_", notice["channel"])
    return render_template("notices.html", notices=notices)


@bp.post("/notices/retry")
@login_required
def retry() -> Any:
    """Requeue the notice named by ``id``, or every failed one with ``all``."""
    check_csrf()
    if request.form.get("all"):
        ids = None
    else:
        try:
            ids = [int(request.form.get("id", ""))]
        except ValueError:
            ids = []
    if ids == []:
        flash(t("notices_retry_nothing"), "error")
        return redirect(url_for("notices.failed"))
    report = requeue_failed(get_uow(), current_app.config["CLOCK"],
                            actor=actor(), ids=ids)
    flash(t("notices_requeued", count=len(report.requeued)), "ok")
    return redirect(url_for("notices.failed"))
