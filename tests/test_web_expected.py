"""`POST /api/expected`: tools announce parcels by tracking number (bearer token), and such a
waybill then checks in at its first scan."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import cv2
import pytest
from code128 import image as code128_image
from conftest import ADMIN_PASSWORD, PATIENCE_S
from test_cli_carrier import one_json, shelf

from bench.servers import shelf_web

ANNOUNCEMENT = {"household": "24-2304", "code": "SF1234567890"}


def bearer(community):
    return {"Authorization": f"Bearer {community.web.api_tokens[0]}"}


def test_a_bearer_token_announces_a_parcel_once(client, community, clock):
    made = client.post("/api/expected", json=ANNOUNCEMENT, headers=bearer(community))
    assert made.status_code == 201
    assert made.json == {"code": "SF1234567890", "household": "24-2304",
                         "announced_by": "api@web", "announced_at": "2026-11-29T08:00:00.000+00:00",
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


def test_a_parcel_announced_over_http_checks_in_at_its_first_scan(community, tmp_path):
    with shelf_web(community.path, tmp_path / "web.log") as web:
        url = f"{web.base}/api/expected"
        status, body = post(url, ANNOUNCEMENT, community.web.api_tokens[0])
        assert (status, body["household"], body["created"]) == (201, "24-2304", True)
        status, body = post(url, {**ANNOUNCEMENT, "household": "24-2403"},
                            community.web.api_tokens[0])
        assert (status, body["error"]) == (409, "code_taken")
    photo = tmp_path / "waybill.png"
    cv2.imwrite(str(photo), code128_image("SF1234567890"))
    scanned = one_json(shelf(community, "scan", "--json", photo))
    assert (scanned["action"], scanned["household"], scanned["code"]) == (
        "checkin", "24-2304", "SF1234567890")
