"""The compound's site at its centre: its staff sign in with the centre's accounts and see every
gate's shelf, grouped by gate, and what waits for a gate; every route's access, as a table."""

from __future__ import annotations

import re

import pytest
from compound import COMMUNITY, compound
from conftest import ADMIN_PASSWORD, CHEAP_HASHER, check_in

from kiosk.centre.commands import confirm_delivery
from kiosk.centre.db import connect
from kiosk.centre.store import CentreUnitOfWork
from kiosk.observation import set_observation
from kiosk.passwords import hash_password
from kiosk.services import Rules
from kiosk.staff import add_staff
from kiosk.store import SqliteUnitOfWork
from web.centre import create_centre_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
@pytest.fixture
def site(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north", "south"),
                  clock) as (centre, url, gates):
        with connect(centre_url) as pg:
            uow = CentreUnitOfWork(pg, COMMUNITY)
            for username, role in (("admin", "admin"), ("li", "committee")):
                add_staff(uow, clock.now(), username=username, name=username.title(),
                          role=role, team="committee" if role == "committee" else None,
                          password_hash=hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER),
                          actor="tests", teams=["committee", "property"])
        app = create_centre_app(centre, clock=clock)
        app.config["TESTING"] = True
        yield app, centre, gates


def signed_in(app, username: str):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    answer = client.post("/login", data={"csrf_token": token, "username": username,
                                         "password": ADMIN_PASSWORD})
    assert answer.status_code == 302 and answer.location == "/", answer.text[:300]
    return client


def test_the_compound_shelf_shows_every_gate_and_what_waits_for_one(site, centre_url,
                                                                    clock):
    app, centre, gates = site
    north, south = gates["north"], gates["south"]
    set_observation("24-2304", True, SqliteUnitOfWork(north.conn),
                    Rules.from_config(north.config), clock, actor="tests")
    task = check_in(north.conn, north.config, clock, "24-2304", "NORTH-FOOD").door_task
    check_in(south.conn, south.config, clock, "2-902", "SOUTH-BOOK")
    for gate in (north, south):
        gate.sync(clock)
    anonymous = app.test_client().get("/", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")

    client = signed_in(app, "li")
    page = client.get("/?lang=en").text
    assert "North gate" in page and "South gate" in page
    assert page.index("North gate") < page.index("NORTH-FOOD") < page.index("South gate") \
        < page.index("SOUTH-BOOK")
    assert "waiting for the" not in page

    with connect(centre_url) as pg:
        confirm_delivery(pg, COMMUNITY, "north", north.journal().state().epoch, task.id,
                         "24-2304", centre.label_secret, actor="li", now=clock.now())
    waiting = client.get("/?lang=en").text
    assert "waiting for the North gate" in waiting
    assert "NORTH-FOOD" in waiting  # still on the north shelf: nothing pretends otherwise
    assert "等待北门同步" in client.get("/?lang=zh").text

    north.sync(clock)
    done = client.get("/?lang=en").text
    assert "waiting for the North gate" not in done and "NORTH-FOOD" not in done


def test_a_gates_sync_needs_no_session_and_no_csrf_token_but_its_own(site, clock):
    app, _, gates = site
    client = app.test_client()
    answer = client.post("/sync/v1", json={"gate": "north"})
    assert answer.status_code == 401 and answer.json["error"] == "credential_refused"
    token = gates["north"].config.centre.token
    answer = client.post("/sync/v1", json={"gate": "north"},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403  # names no community: refused, nothing applied
    assert client.get("/healthz").json["community"] == COMMUNITY


def test_a_wrong_password_is_refused_and_the_lockouts_are_the_admins(site):
    app, _, _ = site
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    refused = client.post("/login", data={"csrf_token": token, "username": "li",
                                          "password": "not it"})
    assert refused.status_code == 200 and 'role="alert"' in refused.text
    assert signed_in(app, "li").get("/admin/lockouts").status_code == 403
    assert signed_in(app, "admin").get("/admin/lockouts").status_code == 200
