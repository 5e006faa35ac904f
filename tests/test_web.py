"""The staff site through Flask's test client: access rules, the live shelf data, languages."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime

import pytest
from conftest import ADMIN_PASSWORD, check_in, fill_floor, pickup_code
from flask.testing import FlaskClient

from kiosk.config import User
from kiosk.passwords import hash_password
from kiosk.services import Rules, pick_up
from kiosk.store import SqliteUnitOfWork
from web import create_app
from web.auth import SESSION_FIELD, roles_required, safe_next
from web.i18n import JS_KEYS, words
from web.shelf import PARCELS_PER_CARD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
GRID_RE = re.compile(r'<div id="grid" class="grid" data-version="([^"]+)">(.*?)</div>\n<script',
                     re.S)
JSON = {"Accept": "application/json"}  # as shelf.js asks


class AuthActions:
    """Sign in and out through the real forms, CSRF token included (flaskr's auth helper)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        match = CSRF_RE.search(self.client.get(path).text)
        assert match, f"no CSRF token in the form at {path}"
        return match[1]

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD, **extra: str):
        data = {"csrf_token": self.csrf(), "username": username, "password": password, **extra}
        return self.client.post("/login", data=data)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


# --- access rules -------------------------------------------------------------------------

PAGES = ["/", "/shelf/grid", "/shelf/slot/A-01", "/notices/failed"]
APIS = ["/api/slots"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location == f"/login?next={path}"


@pytest.mark.parametrize("path", APIS)
def test_api_refuses_anonymous_callers_with_json(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json == {"error": "login required"}


@pytest.mark.parametrize("path", PAGES)
def test_pages_refuse_a_script_asking_for_json_with_401(client, path):
    """shelf.js polls with Accept: JSON; a 401 (not the sign-in form) tells it to reload."""
    response = client.get(path, headers=JSON)
    assert response.status_code == 401
    assert response.json == {"error": "login required"}


@pytest.mark.parametrize("path", PAGES + APIS)
def test_signed_in_staff_get_through(client, auth, path):
    auth.login()
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(("username", "password"), [
    ("admin", "wrong password"),
    ("nobody", ADMIN_PASSWORD),
    ("", ""),
])
def test_a_wrong_login_is_refused_without_saying_which_part(client, auth, username, password):
    response = auth.login(username, password)
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.text
    assert client.get("/").status_code == 302
    with client.session_transaction() as session:
        assert SESSION_FIELD not in session


def test_password_guessing_is_throttled_per_username(client, auth, clock):
    from web.auth import LOGIN_MAX_FAILURES, LOGIN_WINDOW

    for _ in range(LOGIN_MAX_FAILURES):
        assert "用户名或密码不正确" in auth.login("admin", "guess").text
        clock.advance(1)
    locked = auth.login("admin", ADMIN_PASSWORD)  # even the right password waits now
    assert locked.status_code == 200 and "错误次数过多" in locked.text
    clock.advance(LOGIN_WINDOW.total_seconds())
    assert auth.login("admin", ADMIN_PASSWORD).status_code == 302


def test_a_good_login_opens_the_shelf_page(client, auth):
    response = auth.login()
    assert response.status_code == 302
    assert response.location == "/"
    page = client.get("/")
    assert "Administrator" in page.text
    assert 'action="/logout"' in page.text


def test_the_sign_in_page_sends_signed_in_staff_on(client, auth):
    auth.login()
    assert client.get("/login").location == "/"


def test_login_follows_a_local_next_url(auth):
    response = auth.login(next="/api/slots?x=1")
    assert response.location == "/api/slots?x=1"


@pytest.mark.parametrize("target", [
    "http://evil.example/", "//evil.example/", "/\\evil.example", "https:/evil.example",
    "javascript:alert(1)",
])
def test_login_ignores_a_next_url_to_another_site(auth, target):
    response = auth.login(next=target)
    assert response.status_code == 302
    assert response.location == "/"


def test_safe_next_keeps_only_local_paths():
    assert safe_next("/?lang=en") == "/?lang=en"
    assert safe_next("http://evil") is None
    assert safe_next(None) is None


def test_login_without_the_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_login_with_a_forged_csrf_token_is_refused(client, auth):
    auth.csrf()
    response = client.post("/login", data={"csrf_token": "forged", "username": "admin",
                                           "password": ADMIN_PASSWORD})
    assert response.status_code == 400


def test_logout_ends_the_session(client, auth):
    auth.login()
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/api/slots").status_code == 401


def test_logout_needs_the_csrf_token(client, auth):
    auth.login()
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_session_cookie_is_httponly_and_samesite_lax(auth):
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_a_valid_bearer_token_reads_the_api(client, community):
    token = community.web.api_tokens[0]
    response = client.get("/api/slots", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["community"] == community.community.name


@pytest.mark.parametrize("header", [
    "Bearer wrong-token-wrong-token", "Bearer ", "Basic YWRtaW46eA==", "",
])
def test_a_wrong_bearer_token_is_refused(client, header):
    response = client.get("/api/slots", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json == {"error": "login required"}


@pytest.mark.parametrize("path", PAGES)
def test_a_bearer_token_does_not_open_the_pages(client, community, path):
    bearer = {"Authorization": f"Bearer {community.web.api_tokens[0]}"}
    assert client.get(path, headers=bearer).status_code == 302
    assert client.get(path, headers={**bearer, **JSON}).status_code == 401


def test_roles_required_is_checked_on_the_server(community, clock):
    committee = User("li", hash_password("committee pass"), "committee", "Li Wei")
    web = dataclasses.replace(community.web, users=(*community.web.users, committee))
    config = dataclasses.replace(community, web=web)
    app = create_app(config, clock=clock)
    app.add_url_rule("/admin-only", "admin_only", roles_required("admin")(lambda: "ok"))
    client = app.test_client()
    auth = AuthActions(client)

    assert client.get("/admin-only").status_code == 302
    auth.login("li", "committee pass")
    assert client.get("/admin-only").status_code == 403
    auth.logout()
    auth.login()
    assert client.get("/admin-only").text == "ok"


# --- the live shelf -----------------------------------------------------------------------

def test_api_slots_shows_a_checked_in_parcel_lit_in_its_slot(client, auth, conn, community,
                                                             clock):
    result = check_in(conn, community, clock, "24-2304", "SF1234567")
    auth.login()
    body = client.get("/api/slots").json

    assert datetime.fromisoformat(body["generated_at"]) == clock.now()
    assert body["community"] == community.community.name
    slots = {s["code"]: s for s in body["slots"]}
    slot = slots[result.slot]
    assert slot["light"] == "on"
    assert slot["count"] == 1
    assert [(p["household"], p["ref"], p["door_delivery"]) for p in slot["parcels"]] == [
        ("24-2304", "SF1234567", False)]
    others = [s for code, s in slots.items() if code != result.slot]
    assert not any(s["parcels"] or s["light"] for s in others)
    assert set(slot) == {"code", "shelf", "capacity", "buildings", "overflow", "count",
                         "light", "parcels"}


def test_lights_go_out_in_the_api_after_their_time(client, auth, conn, community, clock):
    result = check_in(conn, community, clock, "24-2304")
    clock.advance(community.kiosk.light_s + 1)
    auth.login()
    slot = next(s for s in client.get("/api/slots").json["slots"] if s["code"] == result.slot)
    assert slot["light"] is None
    assert slot["count"] == 1


def test_shelf_page_shows_parcels_in_their_slots(client, auth, conn, community, clock):
    plain = check_in(conn, community, clock, "24-2304", "SF1234567")
    door = check_in(conn, community, clock, "29-1004", "JD0001")  # under observation
    auth.login()
    html = client.get("/").text

    card = _card(html, plain.slot)
    assert "lit lit-on" in card
    assert "24-2304" in card and "SF1234567" in card
    assert "11-29 16:00" in card  # 08:00 UTC in Asia/Shanghai
    door_card = _card(html, door.slot)
    assert 'class="parcel door"' in door_card
    assert "送货上门" in door_card
    assert 'data-slot="FLOOR"' in html
    assert html.index("门岗A架") < html.index("门岗B架") < html.index('"FLOOR"')


def test_a_full_slot_looks_full(client, auth, conn, community, clock):
    # Building 29 has one zoned slot of its own (B-03, capacity 3).
    for n in range(3):
        check_in(conn, community, clock, "29-1004", f"R{n}")
    auth.login()
    card = _card(client.get("/").text, "B-03")
    assert " full" in card
    assert "3/3" in card
    assert "已满" in card


# --- the polled grid: one renderer for the page and the poll --------------------------------

def poll(client: FlaskClient, since: str | None = None) -> dict[str, str]:
    response = client.get("/shelf/grid", query_string={"since": since} if since else None,
                          headers=JSON)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.json


def served_grid(client: FlaskClient, path: str = "/") -> tuple[str, str]:
    """The page's grid as served: (data-version, inner HTML)."""
    match = GRID_RE.search(client.get(path).text)
    assert match, "no grid on the page"
    return match[1], match[2]


def test_the_poll_sends_the_grid_the_page_was_served_with(client, auth, conn, community, clock):
    check_in(conn, community, clock, "24-2304", "SF1234567")
    auth.login()
    version, html = served_grid(client)
    polled = poll(client)

    assert polled["html"] == html
    assert polled["version"] == version
    assert polled["summary"] == "在架 1 件 · 已满 0 格 · 亮灯 1 格"
    assert polled["updated"] == "更新于 16:00:00"  # 08:00 UTC in Asia/Shanghai
    assert datetime.fromisoformat(polled["generated_at"]) == clock.now()


def test_an_unchanged_poll_carries_no_markup(client, auth, conn, community, clock):
    check_in(conn, community, clock, "24-2304")
    auth.login()
    version, _ = served_grid(client)
    clock.advance(2)
    polled = poll(client, since=version)
    assert polled == {"version": version, "generated_at": "2026-11-29T08:00:02+00:00",
                      "updated": "更新于 16:00:02"}


def test_the_poll_follows_a_check_in_and_a_pickup(client, auth, conn, community, clock):
    auth.login()
    before, _ = served_grid(client)

    clock.advance(60)
    new = check_in(conn, community, clock, "24-2304", "SF7777001")
    after_check_in = poll(client, since=before)
    assert after_check_in["version"] != before
    card = _card(after_check_in["html"], new.slot)
    assert f'data-parcel="{new.parcel}"' in card and "SF7777001" in card
    assert "lit lit-on" in card
    assert "在架 1 件" in after_check_in["summary"]

    clock.advance(5)
    pick_up(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn), Rules.from_config(community),
            clock)
    after_pickup = poll(client, since=after_check_in["version"])
    card = _card(after_pickup["html"], new.slot)
    assert "data-parcel" not in card
    assert "lit lit-blink" in card and " empty" in card
    assert "在架 0 件" in after_pickup["summary"]
    assert served_grid(client) == (after_pickup["version"], after_pickup["html"])


def test_the_poll_changes_when_only_a_light_goes_out(client, auth, conn, community, clock):
    result = check_in(conn, community, clock, "24-2304")
    auth.login()
    lit = poll(client)
    clock.advance(community.kiosk.light_s + 1)
    dark = poll(client, since=lit["version"])
    assert dark["version"] != lit["version"]
    assert "lit" not in _card(dark["html"], result.slot).split(">", 1)[0]


def test_an_unchanged_poll_reads_no_parcel(client, auth, conn, community, clock, monkeypatch):
    """Every open staff page polls every two seconds: when nothing happened since, the poll
    answers from what it drew last, after three small reads, without reading the shelf."""
    import web.db

    read: list[str] = []
    opened = web.db.connect

    def traced(*args, **kwargs):
        connection = opened(*args, **kwargs)
        connection.set_trace_callback(read.append)
        return connection

    monkeypatch.setattr(web.db, "connect", traced)
    check_in(conn, community, clock, "24-2304")
    auth.login()
    first = poll(client)
    read.clear()
    clock.advance(2)
    again = poll(client, since=first["version"])
    assert "html" not in again
    assert read and not [sql for sql in read if "FROM parcels" in sql], read


def test_a_parcel_s_age_shows_on_the_grid_without_any_event(client, auth, conn, community,
                                                            clock):
    result = check_in(conn, community, clock, "24-2304")
    auth.login()
    fresh = poll(client)
    assert "age-day" not in _card(fresh["html"], result.slot)
    clock.advance(24 * 3600 + 60)  # a day passes: nothing happens at the shelf
    auth.login()  # (the session of the day before has ended)
    aged = poll(client, since=fresh["version"])
    assert "age-day" in _card(aged["html"], result.slot)


def test_the_poll_speaks_the_sessions_language(client, auth, conn, community, clock):
    check_in(conn, community, clock, "29-1004", "JD0001")  # under observation
    auth.login()
    chinese = poll(client)
    client.get("/?lang=en")
    english = poll(client, since=chinese["version"])
    assert english["version"] != chinese["version"]
    assert "Door delivery" in english["html"] and "送货上门" not in english["html"]
    assert english["summary"] == "Waiting: 1 · full slots: 0 · lit: 1"
    assert english["updated"] == "Updated 16:00:00"


# --- many parcels: a card shows the oldest few and links to the rest -----------------------

def test_a_crowded_slot_shows_its_oldest_parcels_then_how_many_more(client, auth, conn,
                                                                    community, clock):
    floor = fill_floor(conn, community, clock, PARCELS_PER_CARD + 3)
    auth.login()
    html = client.get("/").text

    card = _card(html, "FLOOR")
    shown = re.findall(r'data-parcel="(\d+)"', card)
    assert shown == [str(r.parcel) for r in floor[:PARCELS_PER_CARD]]
    assert f">{len(floor)}</span>" in card  # the count is every parcel in the slot
    assert '<a class="more" href="/shelf/slot/FLOOR">还有 3 件，查看全部</a>' in card
    total = sum(s["count"] for s in client.get("/api/slots").json["slots"])
    assert f"在架 {total} 件" in html
    english = _card(client.get("/?lang=en").text, "FLOOR")
    assert '<a class="more" href="/shelf/slot/FLOOR">+3 more, see all</a>' in english


def test_a_slot_with_few_parcels_has_no_more_link(client, auth, conn, community, clock):
    check_in(conn, community, clock, "24-2304", "SF1234567")
    auth.login()
    assert 'class="more"' not in client.get("/").text


def test_the_page_grows_with_slots_not_parcels(client, auth, conn, community, clock):
    fill_floor(conn, community, clock, PARCELS_PER_CARD + 1)
    auth.login()
    _, first = served_grid(client)
    fill_floor(conn, community, clock, 40, prefix="G")
    _, crowded = served_grid(client)

    digits = re.compile(r"\d")  # the same card, the same parcels; only the counts differ
    assert digits.sub("", _card(crowded, "FLOOR")) == digits.sub("", _card(first, "FLOOR"))
    assert "还有 41 件" in _card(crowded, "FLOOR")  # 7 + 40 on the floor, 6 of them shown
    slots = client.get("/api/slots").json["slots"]
    assert crowded.count("data-parcel=") == sum(min(s["count"], PARCELS_PER_CARD)
                                                for s in slots)


def test_api_slots_still_lists_every_parcel(client, auth, conn, community, clock):
    floor = fill_floor(conn, community, clock, PARCELS_PER_CARD + 3)
    auth.login()
    slot = next(s for s in client.get("/api/slots").json["slots"] if s["code"] == "FLOOR")
    assert [p["id"] for p in slot["parcels"]] == [r.parcel for r in floor]
    assert slot["count"] == len(floor)


def test_the_more_link_leads_to_every_parcel_of_the_slot(client, auth, conn, community, clock):
    floor = fill_floor(conn, community, clock, PARCELS_PER_CARD + 3)
    auth.login()
    page = client.get("/shelf/slot/FLOOR")
    assert page.status_code == 200
    assert re.findall(r'data-parcel="(\d+)"', page.text) == [str(r.parcel) for r in floor]
    assert "FLOOR 格的全部包裹" in page.text
    assert f"在架 {len(floor)} 件" in page.text
    assert 'href="/"' in page.text
    assert "All parcels in FLOOR" in client.get("/shelf/slot/FLOOR?lang=en").text


def test_an_empty_slot_page_says_so(client, auth):
    auth.login()
    page = client.get("/shelf/slot/A-01")
    assert page.status_code == 200
    assert "data-parcel" not in page.text
    assert '<p class="slot-empty">空</p>' in page.text


@pytest.mark.parametrize("code", ["NOPE", "a-01", "A-01%27"])
def test_an_unknown_slot_is_not_found(client, auth, code):
    auth.login()
    assert client.get(f"/shelf/slot/{code}").status_code == 404


def _card(html: str, code: str) -> str:
    start = html.index(f'data-slot="{code}"')
    return html[html.rindex("<article", 0, start):html.index("</article>", start)]


# --- languages ----------------------------------------------------------------------------

def test_every_key_exists_in_both_languages():
    """The site's words, as its pages read them from the catalogue (kiosk/locale, web domain)."""
    texts = words().texts
    assert set(texts["zh"]) == set(texts["en"])
    assert set(JS_KEYS) <= set(texts["en"])
    for key in texts["en"]:
        placeholders = [set(re.findall(r"\{(\w+)\}", texts[lang][key])) for lang in ("zh", "en")]
        assert placeholders[0] == placeholders[1], key


def test_language_switch_changes_the_page_and_is_remembered(client, auth):
    auth.login()
    assert "货架实况" in client.get("/").text
    english = client.get("/?lang=en").text
    assert "Shelf, live" in english
    assert '<html lang="en">' in english
    assert "Shelf, live" in client.get("/").text  # remembered in the session
    assert "货架实况" in client.get("/?lang=zh").text


def test_language_survives_sign_out(client, auth):
    auth.login()
    client.get("/?lang=en")
    auth.logout()
    assert "Staff sign-in" in client.get("/login").text


def test_language_follows_the_browser_then_the_config(client):
    assert "Staff sign-in" in client.get("/login", headers={"Accept-Language": "en-GB"}).text
    assert "工作人员登录" in client.get(
        "/login", headers={"Accept-Language": "fr, zh-CN;q=0.8, en;q=0.5"}).text
    assert "工作人员登录" in client.get("/login").text  # the community's default: zh


def test_js_gets_the_same_words_as_the_page(client, auth):
    auth.login()
    html = client.get("/?lang=en").text
    blob = re.search(r'<script id="shelf-data" type="application/json">(.*?)</script>', html,
                     re.S)
    assert blob, "the page carries no data for shelf.js"
    assert json.loads(blob[1]) == {
        "grid": "/shelf/grid",
        "poll_ms": 2000,
        "strings": {key: words().text("en", key) for key in JS_KEYS},
    }
    assert "Connection lost" in json.loads(blob[1])["strings"]["offline"]
    assert '<script src="/static/shelf.js"' in html


def test_pages_fetch_nothing_from_other_sites(client, auth):
    login_page = client.get("/login")
    auth.login()
    for page in (login_page, client.get("/")):
        assert not re.search(r'(src|href)="(https?:)?//', page.text)
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_read_that_fails_under_a_page_is_a_503_not_a_traceback(client, auth, community):
    """The read models speak SQLite directly; their failures get the store's 503 page too."""
    import sqlite3

    auth.login()
    other = sqlite3.connect(community.database, isolation_level=None)
    other.execute("ALTER TABLE slots RENAME TO slots_hidden")  # a damaged store, for a moment
    try:
        page = client.get("/shelf/grid")
        api = client.get("/api/slots")
    finally:
        other.execute("ALTER TABLE slots_hidden RENAME TO slots")
        other.close()
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert api.status_code == 503 and api.json["code"] == "store_unavailable"
