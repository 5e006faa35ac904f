"""What a gate of a compound's site refuses to change: its centre owns it (kiosk.sync.owner).

On a gate with ``[centre]`` url, the forms that would change the household list, apply an
observation list or change a staff account answer 403 with the reason; the pages that show
them stay. The centre's site changes them, and every gate gets the change as a command.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request

from web.auth import SAFE_METHODS

# Endpoint -> what of the centre's it would change (kiosk.sync.owner.CENTRE_OWNS).
CENTRE_OWNED = {
    "households.edit": "households", "households.upload": "households",
    "households.apply": "households", "observation.upload_list": "observation",
    "observation.apply": "observation", "users.add": "staff", "users.disable": "staff",
    "users.enable": "staff", "users.reset": "staff", "users.change": "staff",
}


def refuse_what_the_centre_owns() -> Any:
    if request.method in SAFE_METHODS or request.endpoint not in CENTRE_OWNED:
        return None
    return render_template("unavailable.html", message_key="owned_by_centre"), 403


def init_app(app: Flask) -> None:
    """For a gate of a compound only, after the sign-in check (web.auth)."""
    app.before_request(refuse_what_the_centre_owns)
