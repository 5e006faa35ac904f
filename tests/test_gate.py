"""The gate screen's endpoints through Flask's test client: who may use them, what they say.

The gate has no login: it answers the machine itself (and configured addresses), and a POST
must come from the gate page. What it shows: the slot, the household masked, a refusal's code.
"""

from __future__ import annotations

import dataclasses
import re
import socket

import pytest
from conftest import check_in, fill_floor, pickup_code
from flask.testing import FlaskClient

from kiosk.config import load_config
from kiosk.errors import ConfigError
from kiosk.services import Rules, act_on_payload, expect, pick_up
from kiosk.store import SqliteUnitOfWork
from web import create_app

ORIGIN = "http://localhost"  # the test client's own site: what the gate page sends
SAME_SITE = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}


def type_code(client: FlaskClient, code: str, **extra):
    return client.post("/gate/code", json={"code": code}, headers=SAME_SITE, **extra)


def state(client: FlaskClient, after: int | None = None) -> dict:
    response = client.get("/gate/state" if after is None else f"/gate/state?after={after}")
    assert response.status_code == 200, response.text
    return response.get_json()


def start(client: FlaskClient) -> int:
    """Where a screen opened now starts reading."""
    return state(client)["last_event_id"]


# ---- who may use the gate --------------------------------------------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_the_gate_answers_the_machine_itself(client, address):
    env = {"REMOTE_ADDR": address}
    assert client.get("/gate", environ_base=env).status_code == 200
    assert client.get("/gate/state", environ_base=env).status_code == 200
    assert type_code(client, "000000", environ_base=env).status_code == 200


@pytest.mark.parametrize("address", ["192.168.1.20", "10.0.0.7", "fe80::1", "not an address"])
def test_the_gate_refuses_every_other_address(client, conn, community, clock, address):
    check_in(conn, community, clock, "24-2304")
    env = {"REMOTE_ADDR": address}
    for response in (client.get("/gate", environ_base=env),
                     client.get("/gate/state?after=0", environ_base=env),
                     type_code(client, pickup_code(conn, "24-2304"), environ_base=env)):
        assert response.status_code == 403
        assert response.get_json()["error"] == "not_the_gate"
        assert "24-23" not in response.text
    assert conn.execute("SELECT COUNT(*) FROM parcels WHERE status = 'waiting'").fetchone()[0] == 1


def _display_client(community, clock) -> FlaskClient:
    web = dataclasses.replace(community.web, gate_clients=("192.168.1.20",))
    return create_app(dataclasses.replace(community, web=web), clock=clock).test_client()


@pytest.mark.parametrize("host", ["192.168.1.10:8080", "[fe80::1]:8080",
                                  socket.gethostname(), f"{socket.gethostname()}.local:8080"])
def test_a_configured_display_may_use_the_gate(community, clock, host):
    """Another display on the LAN opens the Pi by its address or by the Pi's own name."""
    client = _display_client(community, clock)
    display = {"environ_base": {"REMOTE_ADDR": "192.168.1.20"}, "headers": {"Host": host}}
    assert client.get("/gate", **display).status_code == 200
    assert client.get("/gate", environ_base={"REMOTE_ADDR": "192.168.1.21"},
                      headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost:8080"])
def test_a_page_rebound_to_the_pi_cannot_reach_the_gate_from_a_display(community, clock, host):
    """DNS rebinding in a configured display's browser: another site's name, pointed at the Pi."""
    client = _display_client(community, clock)
    response = client.get("/gate", environ_base={"REMOTE_ADDR": "192.168.1.20"},
                          headers={"Host": host})
    assert response.status_code == 403 and response.get_json()["error"] == "not_the_gate"


@pytest.mark.parametrize("header", [{"X-Forwarded-For": "203.0.113.9"},
                                    {"Forwarded": "for=203.0.113.9"},
                                    {"X-Forwarded-Proto": "https"}, {"X-Real-IP": "10.0.0.7"},
                                    {"Via": "1.1 shelf.lan"}])
@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost"])
def test_a_request_through_a_proxy_is_not_the_gates_own(client, header, host):
    """A reverse proxy on the Pi connects from 127.0.0.1 on behalf of anyone, whatever Host
    it passes on (tests/test_proxy.py: through a real nginx)."""
    assert client.get("/gate", headers={**header, "Host": host}).status_code == 403
    posted = client.post("/gate/code", json={"code": "000000"},
                         headers={**header, "Host": host, "Origin": f"http://{host}"})
    assert posted.status_code == 403 and posted.get_json()["error"] == "not_the_gate"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.168.1.5:8080"])
def test_a_page_rebound_to_the_pi_cannot_reach_the_gate(client, host):
    """DNS rebinding: another site's name pointed at 127.0.0.1 in the Pi's own browser."""
    assert client.get("/gate", headers={"Host": host}).status_code == 403
    assert client.get("/gate", headers={"Host": "127.0.0.1:8080"}).status_code == 200


@pytest.mark.parametrize(("body", "headers"), [
    ({"data": {"code": "CODE"}}, SAME_SITE),  # a form, as a cross-site page can send
    ({"json": {"code": "CODE"}}, {}),  # no Origin
    ({"json": {"code": "CODE"}}, {"Origin": "http://evil.example"}),
    ({"json": {"code": "CODE"}}, {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"}),
    ({"json": {"code": "CODE"}}, {"Origin": ORIGIN, "Sec-Fetch-Site": "same-site"}),
])
def test_a_code_from_anywhere_but_the_gate_page_opens_nothing(client, conn, community, clock,
                                                              body, headers):
    check_in(conn, community, clock, "24-2304")
    code = pickup_code(conn, "24-2304")
    filled = {kind: {k: code if v == "CODE" else v for k, v in value.items()}
              for kind, value in body.items()}
    response = client.post("/gate/code", headers=headers, **filled)
    assert response.status_code == 403
    assert response.get_json()["error"] == "cross_site"
    assert pickup_code(conn, "24-2304") == code  # still unused: nothing was handed out


@pytest.mark.parametrize("body", [{}, {"code": 123456}, {"code": "12345"}, {"code": "12a456"},
                                  ["123456"]])
def test_a_malformed_code_is_refused_without_counting(client, body):
    response = client.post("/gate/code", json=body, headers=SAME_SITE)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


def test_gate_clients_must_be_addresses(community):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_text(text.replace("gate_clients = []", 'gate_clients = ["pi.local"]'),
                              encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[web\] gate_clients: 'pi.local' is not an IP"):
        load_config(community.path)


# ---- what the screen shows ---------------------------------------------------------------

def test_a_scan_reaches_the_screen_with_its_household_masked(client, conn, community, clock):
    after = start(client)
    result = check_in(conn, community, clock, "24-2304", "SF100")
    answer = state(client, after)
    assert answer["last_event_id"] > after
    [view] = answer["views"]
    assert view["kind"] == "checkin"
    assert view["slots"] == [result.slot]
    assert view["household"] == {"id": "24-23**", "building": "24", "room": "23**"}
    assert not view["repeat"] and not view["overflow"]
    body = client.get(f"/gate/state?after={after}").text
    for private in ("2304", "Chen", "陈杰", "13800002304", "r24-2304", "SF100"):
        assert private not in body  # no room, name, phone, e-mail or reference

    assert state(client, answer["last_event_id"])["views"] == []  # shown once


def test_a_new_screen_starts_from_now(client, conn, community, clock):
    check_in(conn, community, clock, "24-2304")
    opened = state(client)
    assert opened["views"] == [] and opened["last_event_id"] > 0


def test_a_screen_ahead_of_the_store_starts_again_from_its_end(client, conn, community, clock):
    """A new database numbers its events from 1 again: the screen must not wait for id 10000."""
    last = start(client)
    answer = state(client, last + 10_000)
    assert answer == {"last_event_id": last, "views": [], "camera_lost": False}
    check_in(conn, community, clock, "24-2304")
    assert len(state(client, answer["last_event_id"])["views"]) == 1


def test_a_rescan_says_the_same_slot_again(client, conn, community, clock):
    label = check_in_label(conn, community, clock)
    after = start(client)
    again = act_on_payload(label, SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    [view] = state(client, after)["views"]
    assert (view["kind"], view["repeat"], view["slots"]) == ("checkin", True, [again.slot])


def check_in_label(conn, community, clock) -> bytes:
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label

    label = make_label(community.label_secret, HouseholdId.parse("13-1102"), "YT1").encode()
    act_on_payload(label, SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    return label


def test_a_forged_label_is_a_refusal_with_its_reason(client, conn, community, clock):
    label = check_in_label(conn, community, clock)
    after = start(client)
    forged = label[:-4] + (b"AAAA" if not label.endswith(b"AAAA") else b"BBBB")
    act_on_payload(forged, SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    [view] = state(client, after)["views"]
    assert (view["kind"], view["error"], view["slots"]) == ("refused", "forged", [])


def test_a_pickup_of_many_parcels_is_one_view_with_every_slot(client, conn, community, clock):
    slots = [check_in(conn, community, clock, "24-2304", f"SF{n}").slot for n in range(6)]
    assert len(set(slots)) > 1  # A-12 holds four: the rest went elsewhere
    after = start(client)
    pick_up(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn), Rules.from_config(community),
            clock)
    [view] = state(client, after)["views"]
    assert view["kind"] == "pickup"
    assert view["slots"] == list(dict.fromkeys(slots))
    assert view["parcels"] == 6
    assert view["household"]["id"] == "24-23**"


def test_an_overflow_check_in_names_the_place(client, conn, community, clock):
    after = start(client)
    fill_floor(conn, community, clock, 1)
    view = state(client, after)["views"][-1]
    assert view["slots"] == [community.layout.overflow.code]
    assert view["overflow"] is True
    assert view["place"] == community.layout.overflow_name


def test_an_old_result_is_not_news(client, conn, community, clock):
    """A screen back from an outage does not show a courier who left a minute ago."""
    after = start(client)
    check_in(conn, community, clock, "24-2304")
    clock.advance(60)
    answer = state(client, after)
    assert answer["views"] == [] and answer["last_event_id"] > after


# ---- the keypad --------------------------------------------------------------------------

def test_a_typed_code_hands_out_every_parcel_and_is_not_shown_twice(client, conn, community,
                                                                     clock):
    slots = [check_in(conn, community, clock, "24-2304", f"SF{n}").slot for n in range(5)]
    after = start(client)
    response = type_code(client, pickup_code(conn, "24-2304"))
    assert response.status_code == 200
    answer = response.get_json()
    view = answer["view"]
    assert (view["kind"], view["parcels"]) == ("pickup", 5)
    assert view["slots"] == list(dict.fromkeys(slots))
    assert view["household"]["id"] == "24-23**"
    assert conn.execute("SELECT COUNT(*) FROM parcels WHERE status = 'waiting'").fetchone()[0] == 0
    # The screen reads on from the answer's event: the pickup's own events are not news again.
    assert answer["last_event_id"] > after
    assert state(client, answer["last_event_id"])["views"] == []


def test_wrong_codes_then_the_keypad_waits_and_says_how_long(client, conn, community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    wrong = "000000" if right != "000000" else "111111"
    views = [type_code(client, wrong).get_json()["view"] for _ in range(5)]
    assert [(v["kind"], v["error"], v["tries_left"], v["wait_s"]) for v in views] == [
        ("refused", "unknown_code", 4, None), ("refused", "unknown_code", 3, None),
        ("refused", "unknown_code", 2, None), ("refused", "unknown_code", 1, None),
        ("refused", "unknown_code", 0, 5)]
    clock.advance(2)
    view = type_code(client, right).get_json()["view"]  # even the right one waits now
    assert (view["error"], view["wait_s"], view["tries_left"]) == ("throttled", 3, 0)
    assert pickup_code(conn, "24-2304") == right

    clock.advance(3)
    view = type_code(client, right).get_json()["view"]  # five wrong codes today: the room too
    assert (view["kind"], view["error"]) == ("refused", "room_required")
    answer = client.post("/gate/code", json={"code": right, "room": "24-2304"},
                         headers=SAME_SITE).get_json()
    assert answer["view"]["kind"] == "pickup"


def test_the_room_asked_for_is_a_question_the_screen_does_not_see_again(client, conn, community,
                                                                         clock):
    check_in(conn, community, clock, "24-2304")
    for _ in range(community.pickup.max_failures):
        type_code(client, "000000")
        clock.advance(community.pickup.window_s)
    after = start(client)
    answer = type_code(client, pickup_code(conn, "24-2304")).get_json()
    assert answer["view"]["error"] == "room_required"
    assert state(client, after)["views"] == []  # a second screen shows no refusal either


@pytest.mark.parametrize("room", [7, "", "x" * 65, ["24-2304"]])
def test_a_room_with_the_code_must_be_short_text(client, room):
    response = client.post("/gate/code", json={"code": "123456", "room": room}, headers=SAME_SITE)
    assert (response.status_code, response.get_json()["error"]) == (400, "bad_request")


def test_the_gate_keypad_has_its_own_throttle(client, conn, community, clock):
    """Guesses typed at the kiosk's own keypad (or elsewhere) do not lock the gate screen."""
    check_in(conn, community, clock, "24-2304")
    uow, rules = SqliteUnitOfWork(conn), Rules.from_config(community)
    from kiosk.services import act_on_code

    for _ in range(community.pickup.max_failures + 1):
        act_on_code("000000", uow, rules, clock, source="keypad")
    assert type_code(client, pickup_code(conn, "24-2304")).get_json()["view"]["kind"] == "pickup"


# ---- the page ----------------------------------------------------------------------------

def page_data(response) -> dict:
    import json

    match = re.search(r'<script type="application/json" id="gate-data">(.*?)</script>',
                      response.text, re.S)
    assert match, "no page data"
    return json.loads(match[1])


def test_the_page_speaks_the_communitys_language_not_the_browsers(client):
    response = client.get("/gate", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="zh-CN">' in response.text
    assert "住户取件" in response.text
    data = page_data(response)
    assert (data["lang"], data["default_lang"]) == ("zh", "zh")
    assert data["strings"]["en"]["gate_idle_resident_title"] == "Residents"  # to switch to


def test_the_page_opens_in_english_when_asked(client):
    response = client.get("/gate?lang=en")
    assert '<html lang="en">' in response.text and "Residents" in response.text
    assert page_data(response)["default_lang"] == "zh"


def test_the_page_is_headed_by_where_it_is_and_may_be_zoomed(client):
    """Issue 20: an h1 (the community and what the gate does), and a viewport that lets people
    zoom; on the kiosk itself Chromium's --disable-pinch (scripts/gate-screen) stops a
    gloved pinch from zooming the screen by accident."""
    text = client.get("/gate").text
    [heading] = re.findall(r"<h1\b.*?</h1>", text, re.S)
    assert "示例花园" in heading and "快递投递与取件" in heading
    [viewport] = re.findall(r'<meta name="viewport" content="([^"]*)">', text)
    assert "user-scalable" not in viewport and "maximum-scale" not in viewport


def test_the_page_has_no_staff_data(client, conn, community, clock):
    check_in(conn, community, clock, "24-2304", "SF100")
    text = client.get("/gate").text
    for private in ("24-2304", "Chen", "13800002304", "SF100", "csrf", "admin"):
        assert private not in text


# ---- a carrier waybill: the room typed at the gate ------------------------------------------

WAYBILL = "SF1234567890"


def type_room(client: FlaskClient, room: str, tail: str | None = None, *, keep: bool = False,
              code: str = WAYBILL) -> dict:
    body: dict = {"code": code, "room": room}
    if tail is not None:
        body["phone_tail"] = tail
    if keep:
        body["keep_room"] = True
    response = client.post("/gate/room", json=body, headers=SAME_SITE)
    assert response.status_code == 200, response.text
    return response.get_json()["view"]


def waiting(conn) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute(
        "SELECT household_id, slot_code FROM parcels WHERE status = 'waiting' ORDER BY id")]


def test_a_scanned_waybill_asks_the_screen_for_the_room(client, conn, community, clock):
    after = start(client)
    outcome = act_on_payload(WAYBILL.encode(), SqliteUnitOfWork(conn),
                             Rules.from_config(community), clock)
    assert outcome.action == "needs_room"
    [view] = state(client, after)["views"]
    assert (view["kind"], view["code"]) == ("needs_room", WAYBILL)


def test_a_confusable_room_asks_for_the_phone_then_checks_in(client, conn):
    view = type_room(client, "24-2304")
    assert (view["kind"], view["error"]) == ("refused", "confusable_room")
    # The courier must choose between whole rooms: suggestions are not masked.
    assert view["suggestions"] == [{"id": "24-2403", "building": "24", "room": "2403"}]
    assert waiting(conn) == []  # nothing half-done

    view = type_room(client, "24-2304", "2304")
    assert view["kind"] == "checkin" and view["room_confirmed"] is True
    assert view["household"]["id"] == "24-23**"
    assert waiting(conn) == [("24-2304", view["slots"][0])]


def test_a_phone_of_the_other_room_offers_both_and_the_courier_chooses(client, conn):
    view = type_room(client, "24-2304", "2403")
    assert (view["error"], [s["id"] for s in view["suggestions"]]) == ("phone_mismatch",
                                                                        ["24-2403"])
    assert waiting(conn) == []
    view = type_room(client, "24-2403", "2403")  # the suggested room: the phone settles it
    assert (view["kind"], view["household"]["id"], view["room_confirmed"]) == ("checkin",
                                                                             "24-24**", True)


def test_a_courier_who_insists_on_the_typed_room_leaves_it_for_staff_to_check(client, conn):
    view = type_room(client, "24-2304", "2403", keep=True)
    assert (view["kind"], view["room_confirmed"]) == ("checkin", False)
    assert waiting(conn)[0][0] == "24-2304"


def test_a_room_not_in_the_list_suggests_the_rooms_it_may_be(client, conn):
    view = type_room(client, "24-2340")
    assert (view["kind"], view["error"]) == ("refused", "unknown_household")
    assert "24-2304" in [s["id"] for s in view["suggestions"]]
    assert waiting(conn) == []


def test_a_room_without_neighbours_to_confuse_checks_in_at_once(client, conn):
    view = type_room(client, "2-902")
    assert (view["kind"], view["room_confirmed"]) == ("checkin", True)


def test_an_announced_waybill_is_confirmed_on_the_screen_by_its_phone(client, conn, community,
                                                                     clock):
    """The scan names the announced household, masked; the phone tail alone then checks the
    waybill against it (``POST /gate/room`` without a room)."""
    expect("24-2304", WAYBILL, SqliteUnitOfWork(conn), clock, actor="bot@api")
    after = start(client)
    act_on_payload(WAYBILL.encode(), SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    [view] = state(client, after)["views"]
    assert (view["kind"], view["announced"], view["household"]) == (
        "needs_room", {"id": "24-23**", "building": "24", "room": "23**"}, None)
    response = client.post("/gate/room", json={"code": WAYBILL, "phone_tail": "2403"},
                           headers=SAME_SITE)
    assert response.get_json()["view"]["error"] == "announcement_mismatch"
    assert waiting(conn) == []
    response = client.post("/gate/room", json={"code": WAYBILL, "phone_tail": "2304"},
                           headers=SAME_SITE)
    view = response.get_json()["view"]
    assert (view["kind"], view["room_confirmed"], view["household"]["id"]) == (
        "checkin", True, "24-23**")


@pytest.mark.parametrize("body", [{"code": WAYBILL}, {"code": WAYBILL, "room": " "},
                                  {"room": "24-2304"}, {"code": WAYBILL, "room": 2304},
                                  {"code": WAYBILL, "room": "24-2304", "keep_room": "yes"},
                                  {"code": "S" * 65, "room": "24-2304"},
                                  {"code": WAYBILL, "phone_tail": " "},
                                  {"code": WAYBILL, "room": None, "phone_tail": 2304}])
def test_a_malformed_room_is_refused_and_records_nothing(client, conn, body):
    before = start(client)
    response = client.post("/gate/room", json=body, headers=SAME_SITE)
    assert response.status_code == 400
    assert start(client) == before  # not even a needs_room


def test_without_its_store_the_screen_still_loads_and_its_poll_says_why(client, community):
    """A kiosk browser on an error page would stay there: the page needs no store, the poll
    answers JSON the page understands (and it keeps polling)."""
    community.database.rename(community.database.with_suffix(".moved"))
    assert client.get("/gate").status_code == 200
    response = client.get("/gate/state?after=0")
    assert response.status_code == 503
    assert response.get_json()["error"] == "not_a_store"
