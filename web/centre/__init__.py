"""The compound's site, served from the centre's PostgreSQL: ``create_centre_app(config)``.

``shelf web`` serves it when the config's ``[centre]`` names a ``database`` (``--centre``
insists on it). It answers the gates' exchanges (``/sync/v1``, each gate by its own token),
the compound's health (``/healthz``: every gate's), and the staff, signed in with the
compound's accounts (``web.auth`` on the centre's store): the shelf of every gate grouped by
gate (``shelf``), search, the exceptions and overdue parcels across gates (``follow``), a
parcel's timeline wherever it was and a hand-out decided here (``parcels``), the door visits
of the whole compound (``tasks``), the day's counts (``counts``) and each gate's health and
the sync's alarms (``gates``). Each page is the gate's template, drawn from the centre's read
models of the same names and shapes (``kiosk.centre.queries``, ``follow``, ``visits``); the
endpoints have the gate's names, so the templates' links lead to the centre's pages. The
gate screen, the stills, the lights and what only a gate decides stay on the gate.
"""

from __future__ import annotations

from flask import Flask

from kiosk.centre.db import connect
from kiosk.centre.gates import ensure_community
from kiosk.centre.store import CentreUnitOfWork
from kiosk.clock import clock_from_env
from kiosk.config import Config
from kiosk.ports import Clock, Decoder
from kiosk.services import Rules
from web import secure_sessions, security_headers
from web.serving import LARGEST_UPLOAD_BYTES


def create_centre_app(config: Config, *, clock: Clock | None = None,
                      decoder: Decoder | None = None) -> Flask:
    """Build the centre's site for ``config`` (its [centre] database); migrate it first.

    ``decoder`` reads the door stickers staff photograph at a door (as on a gate's site);
    without one, staff type the room or the page reads the sticker itself.
    """
    assert config.centre is not None and config.centre.is_centre
    clock = clock or clock_from_env()
    with connect(config.centre.database) as conn:  # the schema up to date before any request
        ensure_community(conn, config.community.id, clock.now(), name=str(config.community.name))
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                static_url_path="/static")
    app.config.from_mapping(
        SECRET_KEY=config.web.secret_key,
        COMMUNITY=config.community,
        WEB=config.web,
        CENTRE=config.centre,
        TEAMS=config.teams,
        CLOCK=clock,
        LABEL_SECRET=config.label_secret,
        # The compound's [[teams]] (the same on every gate) and [pickup] (how long a parcel
        # waits before it goes back: the age bands of every gate's parcels here).
        RULES=Rules.from_config(config),
        # A gate's batch (500 records, their texts capped) is far below what waitress takes.
        MAX_CONTENT_LENGTH=LARGEST_UPLOAD_BYTES,
    )
    secure_sessions(app, config.web.cookie_secure)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    from web import auth, errors, i18n
    from web.centre import counts, db, district, follow, gates, health, parcels, shelf, sync, tasks
    from web.centre.district import accounts
    from web.shelf import local_time
    from web.tasks import DoorSite, task_since

    community = config.community.id
    # The district's accounts sign in here too, with the role an assignment lends them now.
    app.config["UNIT_OF_WORK"] = lambda: CentreUnitOfWork(db.get_pg(), community, clock)
    db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)  # the compound's staff sign in with the centre's accounts
    app.extensions["door"] = DoorSite(decoder, config.kiosk.collect_s)
    app.add_template_filter(local_time, "local_time")
    app.add_template_global(task_since, "task_since")
    # district.bp: the district's pages, for district roles only (web.auth); accounts.bp:
    # its accounts and who is lent where, for district_admin
    for blueprint in (sync.bp, health.bp, shelf.bp, follow.bp, parcels.bp, tasks.bp,
                      counts.bp, gates.bp, district.bp, accounts.bp):
        app.register_blueprint(blueprint)
    app.after_request(security_headers)
    return app

