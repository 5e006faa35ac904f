"""`POST /api/expected`: tools announce parcels by tracking number (bearer token), and such a
waybill then checks in at its first scan."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator

import cv2
import pytest
from code128 import image as code128_image
from conftest import ADMIN_PASSWORD, PATIENCE_S
from test_cli_carrier import one_json, shelf
from test_web_tasks import text_of

from bench.servers import shelf_web
from kiosk.services import act_on_carrier

ANNOUNCEMENT = {"household": "24-2304", "code": "SF1234567890"}


def bearer(community):
    return {"Authorization": f"Bearer {community.web.api_tokens[0]}"}


def test_a_bearer_token_announces_a_parcel_once(client, community, clock):
    made = client.post("/api/expected", json=ANNOUNCEMENT, headers=bearer(community))
    assert made.status_code == 201
    assert made.json == {"code": "SF1234567890", "household": "24-2304",
                         "announced_by": "tools@api",  # the token's [[web.tokens]] name
                         "announced_at": "2026-11-29T08:00:00.000+00:00",
                         "used_at": None, "parcel": None, "created": True, "fresh": False}
    again = client.post("/api/expected", json={"household": " 024-2304", "code": "sf1234567890"},
                        headers=bearer(community))
    assert again.status_code == 200
    assert again.json == {**made.json, "created": False}


@pytest.mark.parametrize("body, status, error", [
    ({"household": "24-2340", "code": "SF1234567890"}, 422, "unknown_household"),
    ({"household": "24-2304", "code": "SF 123"}, 400, "bad_carrier_code"),
    ({"household": "2304", "code": "SF1234567890"}, 422, "unknown_household"),
    ({"household": 2304, "code": "SF1234567890"}, 400, "bad_request"),
    ({"code": "SF1234567890"}, 400, "bad_request"),
    (["24-2304", "SF1234567890"], 400, "bad_request"),
])
def test_a_bad_announcement_is_refused_with_a_json_reason(client, community, body, status,
                                                          error):
    response = client.post("/api/expected", json=body, headers=bearer(community))
    assert (response.status_code, response.json["error"]) == (status, error)
    assert response.json["message"] and isinstance(response.json["suggestions"], list)
    if body == {"household": "24-2340", "code": "SF1234567890"}:
        assert response.json["suggestions"] == ["24-2304"]
        assert "24-23** is not in the household list" in response.json["message"]


def test_a_code_announced_for_another_household_is_a_conflict(client, community):
    client.post("/api/expected", json=ANNOUNCEMENT, headers=bearer(community))
    taken = client.post("/api/expected", json={**ANNOUNCEMENT, "household": "24-2403"},
                        headers=bearer(community))
    assert (taken.status_code, taken.json["error"]) == (409, "code_taken")


def test_announcing_needs_a_token_or_a_staff_session_and_a_json_body(client, community):
    assert client.post("/api/expected", json=ANNOUNCEMENT).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert client.post("/api/expected", json=ANNOUNCEMENT, headers=wrong).status_code == 401
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"csrf_token": token, "username": "admin",
                                "password": ADMIN_PASSWORD})
    # A form (what another site could make a signed-in browser send) is not read; nor is
    # JSON riding on the session alone: a session needs its CSRF token, as every form does.
    form = client.post("/api/expected", data=ANNOUNCEMENT)
    assert (form.status_code, form.json["error"]) == (400, "csrf")
    unsigned = client.post("/api/expected", json=ANNOUNCEMENT)
    assert (unsigned.status_code, unsigned.json["error"]) == (400, "csrf")
    page = client.get("/").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    made = client.post("/api/expected", json=ANNOUNCEMENT, headers={"X-CSRFToken": token})
    assert (made.status_code, made.json["announced_by"]) == (201, "admin@web")


def post(url, body, token):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=PATIENCE_S) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_a_parcel_announced_over_http_checks_in_once_its_phone_is_confirmed(community,
                                                                            tmp_path):
    with running_web(community) as base:
        status, body = post(f"{base}/api/expected", ANNOUNCEMENT, community.web.api_tokens[0])
        assert (status, body["household"], body["created"], body["announced_by"]) == (
            201, "24-2304", True, "tools@api")
        status, body = post(f"{base}/api/expected", {**ANNOUNCEMENT, "household": "24-2403"},
                            community.web.api_tokens[0])
        assert (status, body["error"]) == (409, "code_taken")  # refused, not overwritten
    photo = tmp_path / "waybill.png"
    cv2.imwrite(str(photo), code128_image("SF1234567890"))
    scanned = one_json(shelf(community, "scan", "--json", photo))
    assert (scanned["action"], scanned["announced"], scanned["code"]) == (
        "needs_room", "24-2304", "SF1234567890")
    done = one_json(shelf(community, "checkin", "--code", "SF1234567890", "--phone-tail", "2304",
                          "--json"))
    assert (done["action"], done["household"], done["room_confirmed"]) == (
        "checkin", "24-2304", True)

@contextlib.contextmanager
def running_web(community) -> Iterator[str]:
    """The real `shelf web` (waitress, in its own process) on a free port: its base URL."""
    with shelf_web(community.path, community.path.parent / "web.log") as web:
        yield web.base


def gate_post(base, path, body):
    """A POST from the gate page itself (its own origin), as gate.js sends it."""
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Origin": base, "Sec-Fetch-Site": "same-origin"})
    with urllib.request.urlopen(request, timeout=PATIENCE_S) as answer:
        return json.loads(answer.read())["view"]


def test_an_announcement_cannot_steal_a_parcel_at_the_gate(community, tmp_path):
    """Issue 18, item 7: a token announced 24-2304's waybill for 2-902. The scan no longer checks
    it in to 2-902: the gate asks for the waybill's phone, which is not 2-902's, and the room
    the courier then types from the waybill wins."""
    stolen = {"household": "2-902", "code": "SF5555555555"}
    with running_web(community) as base:
        status, made = post(f"{base}/api/expected", stolen, community.web.api_tokens[0])
        assert (status, made["household"]) == (201, "2-902")
        photo = tmp_path / "waybill.png"  # printed for 24-2304, phone 138****2304
        cv2.imwrite(str(photo), code128_image("SF5555555555"))
        scanned = one_json(shelf(community, "scan", "--json", photo))
        assert (scanned["action"], scanned["parcel"], scanned["announced"]) == (
            "needs_room", None, "2-902")
        asked = gate_post(base, "/gate/room", {"code": "SF5555555555", "phone_tail": "2304"})
        assert (asked["kind"], asked["error"]) == ("refused", "announcement_mismatch")
        done = gate_post(base, "/gate/room", {"code": "SF5555555555", "room": "24-2304",
                                              "phone_tail": "2304"})
        assert (done["kind"], done["household"]["id"], done["room_confirmed"]) == (
            "checkin", "24-23**", True)
    db = sqlite3.connect(community.database)
    assert db.execute("SELECT household_id FROM parcels").fetchall() == [("24-2304",)]
    assert db.execute("SELECT COUNT(*) FROM pickup_codes WHERE household_id = '2-902'"
                      ).fetchone()[0] == 0
    [detail] = db.execute("SELECT detail FROM events WHERE kind = 'checked_in'").fetchone()
    assert json.loads(detail) | {"announced_for": "2-902", "via": "typed"} == json.loads(detail)


SF_BOT = "Kq3vX9pL2mZ8rT5wY7bN4cJ6hF1dG0sA"


def scoped_token(community) -> None:
    """A carrier's bot that may announce SF tracking numbers for building 24 only."""
    with open(community.path, "a", encoding="utf-8") as config:
        config.write(f'\n[[web.tokens]]\nname = "sf-bot"\ntoken = "{SF_BOT}"\n'
                     'buildings = "24"\ncarriers = ["SF"]\n')


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=PATIENCE_S) as answer:
        return json.loads(answer.read())


def test_a_tokens_scope_limits_what_it_announces_and_sees(community):
    scoped_token(community)
    for room, code, tail in (("24-2304", "SF0001112223", "2304"),
                             ("2-902", "SF0001112224", "3544"),
                             ("24-2403", "YT0001112225", "2403")):
        assert shelf(community, "checkin", "--code", code, "--room", room, "--phone-tail",
                     tail).returncode == 0
    with running_web(community) as base:
        status, body = post(f"{base}/api/expected", {"household": "2-902", "code": "SF777777"},
                            SF_BOT)
        assert (status, body["error"]) == (403, "out_of_scope")
        assert body["message"] == ("this token may announce only for buildings 24; tracking "
                                   "numbers SF…")
        status, body = post(f"{base}/api/expected", {"household": "2-9999", "code": "SF777777"},
                            SF_BOT)  # outside its scope, nothing is said of the household list
        assert (status, body["error"], body["suggestions"]) == (403, "out_of_scope", [])
        status, body = post(f"{base}/api/expected", {"household": "24-2304", "code": "YT777777"},
                            SF_BOT)
        assert (status, body["error"]) == (403, "out_of_scope")
        status, body = post(f"{base}/api/expected", {"household": "24-2304", "code": "sf777777"},
                            SF_BOT)
        assert (status, body["announced_by"]) == (201, "sf-bot@api")
        # The same announcement by another tool changes nothing: the first stays, and its name.
        status, body = post(f"{base}/api/expected", {"household": "24-2304", "code": "SF777777"},
                            community.web.api_tokens[0])
        assert (status, body["created"], body["announced_by"]) == (200, False, "sf-bot@api")

        def seen(token):
            slots = get(f"{base}/api/slots", token)["slots"]
            return (sorted(p["ref"] for s in slots for p in s["parcels"]),
                    sum(s["count"] for s in slots))

        assert seen(SF_BOT) == (["SF0001112223"], 3)  # its building, its carrier; all counted
        assert seen(community.web.api_tokens[0]) == (
            ["SF0001112223", "SF0001112224", "YT0001112225"], 3)


def signed_in_admin(client) -> str:
    """Sign ``client`` in as the admin; its CSRF token, for the forms it posts."""
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"csrf_token": token, "username": "admin",
                                "password": ADMIN_PASSWORD})
    return client.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]


def test_the_staff_see_who_announced_what_and_withdraw_a_doubtful_one(client, community, conn,
                                                                      uow, rules, clock):
    client.post("/api/expected", json={"household": "2-902", "code": "SF5555555555"},
                headers=bearer(community))
    client.post("/api/expected", json=ANNOUNCEMENT, headers=bearer(community))
    done = act_on_carrier("SF5555555555", uow, rules, clock, room="24-2304", phone_tail="2304")
    assert (done.household, done.announced) == ("24-2304", "2-902")  # the waybill won
    csrf = signed_in_admin(client)
    page = client.get("/expected").text
    waiting = page.split('id="expected-open"')[1].split("</section>")[0]
    met = page.split('id="expected-met"')[1].split("</section>")[0]
    assert "SF1234567890" in waiting and "工具 tools（接口）" in waiting
    assert "SF5555555555" not in waiting and "tools@api" not in waiting
    assert "SF5555555555" in met and "面单不符：已按面单入架给 24-2304" in met
    story = client.get(f"/parcels/{done.parcel}").text
    assert "工具 tools（接口） 曾把这个单号预报给 2-902，与面单不符，已按面单入架" in text_of(story)

    gone = client.post("/expected/SF1234567890/withdraw", data={"csrf_token": csrf},
                       follow_redirects=True)
    assert "已撤销 SF1234567890 给 24-2304 的预报。" in gone.text
    assert 'data-code="SF1234567890"' not in gone.text
    [event] = conn.execute("SELECT actor, household_id, detail FROM events "
                           "WHERE kind = 'announcement_withdrawn'").fetchall()
    assert (event["actor"], event["household_id"]) == ("admin@web", "24-2304")
    assert json.loads(event["detail"])["announced_by"] == "tools@api"
    again = client.post("/api/expected", json={**ANNOUNCEMENT, "household": "24-2403"},
                        headers=bearer(community))
    assert again.status_code == 201  # withdrawn: the code may be announced anew
    met_one = client.post("/expected/SF5555555555/withdraw", data={"csrf_token": csrf},
                          follow_redirects=True)
    assert "SF5555555555 没有等待中的预报" in met_one.text
    assert conn.execute("SELECT COUNT(*) FROM expected WHERE code = 'SF5555555555'"
                        ).fetchone()[0] == 1
