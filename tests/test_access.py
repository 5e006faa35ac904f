"""Deny by default: every route of the real app, for every kind of visitor, against a table.

The table below says who may use each endpoint. A route that is not in it fails the sweep (a
new route must be thought about: add its row), and so does a route whose view declares no
role (``web.auth``: it is refused to everyone, admins too). Every POST is also refused without
its CSRF token, except the gate's JSON (``web.auth.CSRF_EXEMPT_ENDPOINTS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from conftest import ADMIN_PASSWORD, CHEAP_HASHER, add_member, make_app

from web import auth

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
JSON = {"Accept": "application/json"}
SIGNED_IN = ("admin", "committee", "property", "gate")  # a session of each role
VISITORS = ("anonymous", *SIGNED_IN, "token", "wrong_token")
ACCOUNTS = {"committee": "li", "property": "zhang", "gate": "mensheng"}  # role -> username

# Who may use an endpoint. "token": a valid bearer token without a session. The gate role
# reads what the signed-in may read; its POSTs are refused (read-only) wherever it is listed.
PUBLIC = frozenset(VISITORS)
EVERY_ROLE = frozenset(SIGNED_IN)
EVERY_ROLE_AND_TOKEN = EVERY_ROLE | {"token"}
STAFF = frozenset({"admin", "committee", "property"})  # the camera's stills: people at the gate
APPLIERS = frozenset({"admin", "committee"})
ADMIN = frozenset({"admin"})
DISTRICT = frozenset({"district_admin", "district_staff"})  # accounts of the district's own
DISTRICT_ADMIN = frozenset({"district_admin"})

ACCESS: dict[str, frozenset[str]] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "gate.page": PUBLIC,  # the gate guards itself: its own display only (tests/test_gate.py)
    "gate.state": PUBLIC,
    "gate.code": PUBLIC,
    "gate.room": PUBLIC,
    "gate.fresh": PUBLIC,
    "health.healthz": PUBLIC,  # times and counts only, no personal data (tests/test_health.py)
    "shelf.index": EVERY_ROLE,
    "shelf.grid": EVERY_ROLE,
    "shelf.slot": EVERY_ROLE,
    "shelf.api_slots": EVERY_ROLE_AND_TOKEN,
    "expected.announce": EVERY_ROLE_AND_TOKEN,
    "expected.index": STAFF,  # who announced what: tokens' names, households whole
    "expected.withdraw": STAFF,
    "notices.failed": EVERY_ROLE,
    "notices.retry": EVERY_ROLE,
    "parcels.timeline": STAFF,
    "parcels.still": STAFF,
    "camera.page": STAFF,  # what the camera sees: people at the gate, as the stills
    "camera.watch": STAFF,
    "camera.view": STAFF,
    "camera.frame": STAFF,
    "observation.register": EVERY_ROLE,
    "observation.upload_list": EVERY_ROLE,
    "observation.preview": EVERY_ROLE,
    "observation.apply": APPLIERS,
    "observation.download": EVERY_ROLE,
    "observation.household": EVERY_ROLE,
    "tasks.index": EVERY_ROLE,
    "tasks.collect_slots": EVERY_ROLE,
    "tasks.task": EVERY_ROLE,
    "tasks.door": EVERY_ROLE,
    "counts.page": EVERY_ROLE,
    "counts.download": EVERY_ROLE,
    "auth.lockouts": ADMIN,
    "users.index": ADMIN,
    "users.add": ADMIN,
    "users.confirm_disable": ADMIN,  # asks before disabling (a page, no script needed)
    "users.disable": ADMIN,
    "users.enable": ADMIN,
    "users.reset": ADMIN,
    "users.change": ADMIN,
    "follow.search": STAFF,
    "follow.exceptions": STAFF,
    "follow.overdue": STAFF,
    "parcels.hand_out": STAFF,
    "parcels.move": STAFF,
    "parcels.mark_returned": STAFF,
    "parcels.undo": STAFF,
    "parcels.confirm_room": STAFF,
    "households.index": STAFF,
    "households.household": STAFF,
    "households.edit": STAFF,
    "households.import_form": APPLIERS,
    "households.upload": APPLIERS,
    "households.preview": APPLIERS,
    "households.apply": APPLIERS,
    # The shelf audit (web.audit): staff who act audit; the read-only gate role follows it
    # and reads its reports (households masked there, as on the gate screen).
    "audit.page": EVERY_ROLE,
    "audit.state": EVERY_ROLE,
    "audit.report": EVERY_ROLE,
    "audit.start": STAFF,
    "audit.all_here": STAFF,
    "audit.missing": STAFF,
    "audit.extra": STAFF,
    "audit.pause": STAFF,
    "audit.resume": STAFF,
    "audit.end": STAFF,
}
# The compound's centre (``web.centre``): its own site, on the centre's accounts. Its pages
# have the gate's endpoint names; what stays on a gate is not served there. Its one route for
# machines, a gate's exchange, takes that gate's bearer token and nothing else
# (tests/test_sync_auth.py): no visitor here gets through.
GATE_TOKEN_ONLY: frozenset[str] = frozenset()
CENTRE_ACCESS: dict[str, frozenset[str]] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "health.healthz": PUBLIC,  # every gate's health: times and counts only
    "centre_sync.exchange": GATE_TOKEN_ONLY,
    "shelf.index": EVERY_ROLE,
    "shelf.grid": EVERY_ROLE,
    "shelf.slot": EVERY_ROLE,
    "follow.search": STAFF,
    "follow.exceptions": STAFF,
    "follow.overdue": STAFF,
    "parcels.timeline": STAFF,
    "parcels.hand_out": STAFF,
    "tasks.index": EVERY_ROLE,
    "tasks.task": EVERY_ROLE,
    "tasks.door": EVERY_ROLE,
    "counts.page": EVERY_ROLE,
    "counts.download": EVERY_ROLE,
    "gates.index": EVERY_ROLE,
    "gates.resolve": ADMIN,  # the sync's alarms are the administrators'
    "auth.lockouts": ADMIN,
    # The district's pages (web.centre.district): the district's accounts only, on every
    # compound's site (tests below: the district's visitors too).
    "district.index": DISTRICT,
    "district.rows": DISTRICT,
    "district.counts": DISTRICT,
    "district.download": DISTRICT,
    "district.compound": DISTRICT,
    "district.search": DISTRICT,
    # The district's accounts and who is lent where (web.centre.district.accounts).
    "district_accounts.index": DISTRICT_ADMIN,
    "district_accounts.add": DISTRICT_ADMIN,
    "district_accounts.disable": DISTRICT_ADMIN,
    "district_accounts.enable": DISTRICT_ADMIN,
    "district_accounts.lend": DISTRICT_ADMIN,
    "district_accounts.end": DISTRICT_ADMIN,
}
CENTRE_VISITORS = ("anonymous", *SIGNED_IN, "wrong_token")
# Values for the rules' placeholders: real enough to reach the view, never an account in use.
PLACEHOLDERS = {"code": "A-01", "sha256": "0" * 64, "household": "24-2304",
                "filename": "shelf.css", "username": "nobody", "gate": "north",
                "task_id": "24-2304"}


@dataclass(frozen=True)
class Call:
    endpoint: str
    method: str
    path: str


def calls(app) -> list[Call]:
    """Every endpoint and method of the app, with its placeholders filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        values = {name: 1 if rule._converters[name].__class__.__name__ == "IntegerConverter"
                  else PLACEHOLDERS.get(name, "x") for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(Call(rule.endpoint, method, path))
    return found


def undeclared(app, table: dict[str, frozenset[str]] = ACCESS) -> list[str]:
    """Endpoints that neither the table lists nor their view declares: each a failure."""
    problems = []
    for endpoint in sorted({rule.endpoint for rule in app.url_map.iter_rules()}):
        if endpoint in table and getattr(app.view_functions[endpoint],
                                         auth.CREDENTIAL_ATTRIBUTE, False):
            continue  # checks a credential of its own (a gate's token at the centre)
        if endpoint not in table:
            problems.append(f"{endpoint}: not in tests/test_access.py ACCESS; add its row")
        elif endpoint not in auth.PUBLIC_ENDPOINTS and auth.declared_access(app, endpoint) is None:
            problems.append(f"{endpoint}: its view declares no role (login_required, "
                            "roles_required): refused to everyone")
    return problems


@pytest.fixture
def site(community, clock):
    for role, username in ACCOUNTS.items():
        add_member(community, username, role)
    return make_app(community, clock)


def visitor(app, community, who: str):
    """A test client as ``who``: signed in with a role, holding a token, or neither."""
    client = app.test_client()
    headers = dict(JSON)
    if who in SIGNED_IN:
        username = ACCOUNTS.get(who, "admin")
        password = ADMIN_PASSWORD if who == "admin" else f"{username} pass"
        token = CSRF_RE.search(client.get("/login").text)[1]
        signed = client.post("/login", data={"csrf_token": token, "username": username,
                                             "password": password})
        assert signed.status_code == 302, f"{who} could not sign in"
    elif who == "token":
        headers["Authorization"] = f"Bearer {community.web.api_tokens[0]}"
    elif who == "wrong_token":
        headers["Authorization"] = "Bearer " + "x" * 43
    return client, headers


def csrf_of(client) -> str:
    """The CSRF token of the client's session, from a form it can see (signed in: the shelf's)."""
    page = client.get("/login")
    if page.status_code == 302:
        page = client.get("/", headers={"Accept": "text/html"})
    return CSRF_RE.search(page.text)[1]


def refusal(response) -> str | None:
    """How the access check refused (``login``, ``role``, ``csrf``), or None: let through."""
    body = response.get_json(silent=True) or {}
    if response.status_code == 401 and body.get("error") == "login required":
        return "login"
    if response.status_code == 403 and body.get("error") == "not allowed for your role":
        return "role"
    if response.status_code == 400 and body.get("error") == "csrf":
        return "csrf"
    if response.status_code == 302 and response.location.startswith("/login?next="):
        return "login"
    return None


def expected(call: Call, who: str, table: dict[str, frozenset[str]] = ACCESS) -> str | None:
    allowed = table[call.endpoint]
    if who in allowed and not (who == "gate" and call.method == "POST"
                               and call.endpoint not in auth.PUBLIC_ENDPOINTS):
        return None
    return "role" if who in SIGNED_IN else "login"


def test_every_route_is_in_the_table_and_declares_who_may_use_it(site):
    assert undeclared(site) == []
    assert {rule.endpoint for rule in site.url_map.iter_rules()} == set(ACCESS), \
        "a row of ACCESS names an endpoint the app no longer has"


def test_every_route_answers_each_visitor_as_the_table_says(site, community):
    seen = []
    clients = {who: visitor(site, community, who) for who in VISITORS}
    for call in calls(site):
        for who in VISITORS:
            if call.method == "POST":  # a POST may sign out or change things: a fresh visitor
                client, headers = visitor(site, community, who)
                data = {"csrf_token": csrf_of(client)}  # the CSRF check has its own test
            else:
                (client, headers), data = clients[who], None
            response = client.open(call.path, method=call.method, headers=headers, data=data)
            got, want = refusal(response), expected(call, who)
            assert got == want, (f"{call.method} {call.path} ({call.endpoint}) as {who}: "
                                 f"{response.status_code} {response.get_data(as_text=True)[:200]}")
            seen.append((call.endpoint, who))
    assert len(seen) == len(calls(site)) * len(VISITORS)


def test_anonymous_pages_send_to_the_sign_in_form(site):
    client = site.test_client()
    for call in calls(site):
        if call.method != "GET" or call.endpoint in auth.PUBLIC_ENDPOINTS \
                or call.path.startswith("/api/"):
            continue
        response = client.get(call.path, headers={"Accept": "text/html"})
        assert response.status_code == 302, call
        assert response.location.startswith("/login?next="), call


def test_every_post_is_refused_without_its_csrf_token(site, community):
    posts = [call for call in calls(site) if call.method == "POST"]
    assert {c.endpoint for c in posts} >= {"auth.login", "auth.logout", "users.add"}
    for call in posts:
        if call.endpoint in auth.CSRF_EXEMPT_ENDPOINTS:
            continue
        who = "admin" if "admin" in ACCESS[call.endpoint] else next(
            w for w in SIGNED_IN if w in ACCESS[call.endpoint])
        client, headers = visitor(site, community, who)
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(call.path, headers=headers, data=data)
            assert refusal(response) == "csrf", (call, data, response.status_code)
        assert client.get("/").status_code == 200, f"{call}: the refused POST still acted"
    # The only POSTs without a token: the gate's JSON, from its own page (web/gate.py).
    assert {"gate.code", "gate.room", "gate.fresh"} == auth.CSRF_EXEMPT_ENDPOINTS


def test_a_route_that_declares_nobody_is_refused_even_to_admins(site, community, caplog):
    site.add_url_rule("/forgotten", "forgotten", lambda: "the secret")
    site.add_url_rule("/api/forgotten", "api_forgotten", lambda: "the secret")
    assert undeclared(site) == [
        "api_forgotten: not in tests/test_access.py ACCESS; add its row",
        "forgotten: not in tests/test_access.py ACCESS; add its row"]
    for who in VISITORS:
        client, headers = visitor(site, community, who)
        for path in ("/forgotten", "/api/forgotten"):
            response = client.get(path, headers=headers)
            assert "the secret" not in response.get_data(as_text=True), (who, path)
            assert response.status_code == 403, (who, path)
    assert "forgotten: the route declares no role" in caplog.text


def test_the_gate_role_reads_but_every_post_is_refused(site, community):
    client, headers = visitor(site, community, "gate")
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    token = csrf_of(client)
    refused = client.post("/tasks/collect", data={"csrf_token": token})
    assert refused.status_code == 403
    assert client.post("/notices/retry", data={"csrf_token": token, "all": "1"},
                       headers=JSON).json == {"error": "not allowed for your role"}
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302  # signs out
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302


# --- the compound's centre -------------------------------------------------------------------

@pytest.fixture
def centre_site(tmp_path, community_template, centre_url, clock):
    """The centre's site, with an account of each role (the gate's passwords)."""
    from compound import COMMUNITY, centre_config

    from kiosk.centre.db import connect
    from kiosk.centre.gates import add_gate
    from kiosk.centre.store import CentreUnitOfWork
    from kiosk.passwords import hash_password
    from kiosk.staff import add_staff
    from web.centre import create_centre_app

    centre = centre_config(tmp_path / "centre", community_template, centre_url)
    app = create_centre_app(centre, clock=clock)
    with connect(centre_url) as pg:
        add_gate(pg, COMMUNITY, "north", clock.now(), actor="tests")
        for role in SIGNED_IN:
            username = ACCOUNTS.get(role, "admin")
            password = ADMIN_PASSWORD if role == "admin" else f"{username} pass"
            add_staff(CentreUnitOfWork(pg, COMMUNITY), clock.now(), username=username,
                      name=username.title(), role=role, team=None,
                      password_hash=hash_password(password, hasher=CHEAP_HASHER),
                      actor="tests", teams=[t.id for t in centre.teams])
    return app, centre


def test_every_route_of_the_centre_is_in_its_table(centre_site):
    app, _ = centre_site
    assert undeclared(app, CENTRE_ACCESS) == []
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(CENTRE_ACCESS)
    assert getattr(app.view_functions["centre_sync.exchange"], auth.CREDENTIAL_ATTRIBUTE)


def test_every_route_of_the_centre_answers_each_visitor_as_its_table_says(centre_site):
    app, centre = centre_site
    clients = {who: visitor(app, centre, who) for who in CENTRE_VISITORS}
    seen = 0
    for call in calls(app):
        if call.endpoint == "centre_sync.exchange":
            continue  # a gate's token or nothing: tests/test_sync_auth.py
        for who in CENTRE_VISITORS:
            if call.method == "POST":
                client, headers = visitor(app, centre, who)
                data = {"csrf_token": csrf_of(client)}
            else:
                (client, headers), data = clients[who], None
            response = client.open(call.path, method=call.method, headers=headers, data=data)
            got, want = refusal(response), expected(call, who, CENTRE_ACCESS)
            assert got == want, (f"{call.method} {call.path} ({call.endpoint}) as {who}: "
                                 f"{response.status_code} {response.get_data(as_text=True)[:200]}")
            seen += 1
    assert seen == (len(calls(app)) - 1) * len(CENTRE_VISITORS)


def test_the_centres_pages_send_the_anonymous_to_sign_in_and_refuse_posts_without_a_token(
        centre_site):
    app, centre = centre_site
    for call in calls(app):
        if call.endpoint in auth.PUBLIC_ENDPOINTS or call.endpoint == "centre_sync.exchange":
            continue
        if call.method == "GET":
            response = app.test_client().get(call.path, headers={"Accept": "text/html"})
            assert response.status_code == 302, call
            assert response.location.startswith("/login?next="), call
            continue
        if "admin" not in CENTRE_ACCESS[call.endpoint]:
            continue  # the district office's: refused to a compound's admin by role first;
            # its CSRF check is asked as district_admin (the district test below)
        client, headers = visitor(app, centre, "admin")
        for data in ({}, {"csrf_token": "forged"}):
            assert refusal(client.post(call.path, headers=headers, data=data)) == "csrf", call


# --- the centre's district pages (web/centre/district), on a real PostgreSQL --------------------
# Visitors of one compound's site at the centre: its own staff of each role, the district's
# accounts, and a reinforcement cadre (a district_staff account) lent to this compound as
# property staff: while lent, this compound's site sees it as its property member, so the
# district's pages are closed to it here (it reads them at any other compound's site).
# (The district's rows of CENTRE_ACCESS; "district.compound" is asked with ANOTHER compound's
# id: its staff are refused.)
DISTRICT_VISITORS = ("anonymous", "admin", "committee", "property", "gate", "district_admin",
                     "district_staff", "reinforcement")
DISTRICT_ACCESS = {endpoint: who for endpoint, who in CENTRE_ACCESS.items()
                   if endpoint.startswith(("district.", "district_accounts."))}


@pytest.fixture
def district_site(tmp_path, community_template, centre_url, clock):
    from datetime import timedelta

    from conftest import CHEAP_HASHER
    from district import COMPOUNDS, district, staff_of

    from kiosk.centre.db import connect
    from kiosk.centre.district_staff import add_district_account, assign
    from kiosk.centre.store import CentreUnitOfWork
    from kiosk.passwords import hash_password
    from kiosk.staff import add_staff

    east, west = COMPOUNDS[:2]
    secret = hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER)
    with district(tmp_path, community_template, centre_url, clock, (east, west),
                  ("north",)) as d, connect(centre_url) as pg:
        accounts = {"committee": staff_of(east)}
        for role in ("admin", "property", "gate"):
            accounts[role] = f"{role}.east"
            add_staff(CentreUnitOfWork(pg, east), clock.now(), username=accounts[role],
                      name=role, role=role, team="property" if role == "property" else None,
                      password_hash=secret, actor="tests", teams=["committee", "property"])
        for who, role in (("district_admin", "district_admin"),
                          ("district_staff", "district_staff"),
                          ("reinforcement", "district_staff")):
            accounts[who] = who.replace("_", "-")
            add_district_account(pg, clock.now(), username=accounts[who], name=who, role=role,
                                 password_hash=secret, actor="tests")
        assign(pg, clock.now(), username=accounts["reinforcement"], community=east,
               role="property", team="property", starts_at=clock.now() - timedelta(hours=1),
               ends_at=clock.now() + timedelta(hours=1), actor="tests")
        yield d.sites[east], accounts, west


def test_every_district_route_answers_each_visitor_of_a_compound_as_the_table_says(
        district_site):
    from district import sign_in

    app, accounts, other_compound = district_site
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith(
        ("district.", "district_accounts."))}
    assert endpoints == set(DISTRICT_ACCESS), "a district route is missing from the table"
    clients = {"anonymous": app.test_client()}
    for who in DISTRICT_VISITORS[1:]:
        clients[who], answer = sign_in(app, accounts[who])
        assert answer.status_code == 302, f"{who} could not sign in"
    seen = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in DISTRICT_ACCESS:
            continue
        with app.test_request_context():
            from flask import url_for

            # Another compound's id where a compound is named; an account and a lending
            # nobody has (an allowed POST is then refused by the use case, changing nothing).
            path = url_for(rule.endpoint, **{
                a: 999_999 if rule._converters[a].__class__.__name__ == "IntegerConverter"
                else other_compound for a in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for who in DISTRICT_VISITORS:
                client = clients[who]
                data = {"csrf_token": csrf_of(client)} if method == "POST" else None
                response = client.open(path, method=method, headers=JSON, data=data)
                allowed = who in DISTRICT_ACCESS[rule.endpoint]
                want = None if allowed else "login" if who == "anonymous" else "role"
                assert refusal(response) == want, \
                    f"{method} {path} as {who}: {response.status_code}"
                if allowed:
                    assert response.status_code == (200 if method == "GET" else 302), (
                        method, path, who)
                seen += 1
            if method == "POST":  # let through by role, a POST still needs its CSRF token
                for data in ({}, {"csrf_token": "forged"}):
                    assert refusal(clients["district_admin"].post(
                        path, headers=JSON, data=data)) == "csrf", path
    assert seen >= len(DISTRICT_ACCESS) * len(DISTRICT_VISITORS)
    district_admin = clients["district_admin"]
    assert district_admin.get("/district/compound/nowhere").status_code == 404
