"""The gate's fresh-food key through Flask's test client: ``POST /gate/fresh`` marks the parcel a
check-in just showed, only from the gate page itself, and only while it is news."""

from __future__ import annotations

import pytest
from conftest import check_in
from test_gate import SAME_SITE, start, state
from test_tasks import events, rows, team_notices

from kiosk.services import Rules, act_on_carrier, act_on_code
from kiosk.store import SqliteUnitOfWork
from web import gate

UNDER_OBSERVATION = "29-1004"  # so in the sample community's list


def press(client, parcel, headers=SAME_SITE, **extra):
    return client.post("/gate/fresh", json={"parcel": parcel}, headers=headers, **extra)


def is_fresh(conn, parcel: int) -> bool:
    return bool(rows(conn, "SELECT fresh FROM parcels WHERE id = ?", parcel)[0]["fresh"])


def shown_check_in(client, conn, community, clock, household=UNDER_OBSERVATION) -> dict:
    """Check a parcel in as the kiosk's camera would; the view the screen got for it."""
    after = start(client)
    check_in(conn, community, clock, household, "TG1")
    [view] = state(client, after)["views"]
    return view


def test_a_check_in_s_view_names_its_parcel_and_the_key_marks_it_fresh(client, conn,
                                                                       community, clock):
    view = shown_check_in(client, conn, community, clock)
    [parcel] = rows(conn, "SELECT id FROM parcels")
    assert (view["kind"], view["parcel"], view["fresh"]) == ("checkin", parcel["id"], False)

    clock.advance(5)
    response = press(client, view["parcel"])
    assert response.status_code == 200, response.text
    assert response.get_json() == {"parcel": view["parcel"], "fresh": True, "repeat": False,
                                   "door_delivery": True, "error": None}
    assert is_fresh(conn, view["parcel"])
    [task] = rows(conn, "SELECT fresh_since FROM door_tasks")
    assert task["fresh_since"] is not None  # the door task goes first
    [(_, told)] = team_notices(conn)
    assert told["reason"] == "fresh" and told["tasks"][0]["household"] == UNDER_OBSERVATION
    [marked] = events(conn, "parcel_fresh")
    assert (marked["actor"], marked["detail"]["source"]) == ("courier@kiosk", gate.KEYPAD)
    assert UNDER_OBSERVATION not in response.text

    again = press(client, view["parcel"]).get_json()
    assert (again["fresh"], again["repeat"]) == (True, True)
    assert len(team_notices(conn)) == 1


def test_a_fresh_label_s_view_says_so_and_other_views_name_no_parcel(client, conn, community,
                                                                     clock):
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label
    from kiosk.services import act_on_payload

    after = start(client)
    label = make_label(community.label_secret, HouseholdId.parse("24-2304"), "TG2", fresh=True)
    act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    act_on_code("000000", SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    checked, refused = state(client, after)["views"]
    assert (checked["kind"], checked["fresh"]) == ("checkin", True)
    assert (refused["kind"], refused["parcel"]) == ("refused", None)


def test_a_parcel_checked_in_by_the_gate_keypad_may_be_marked(client, conn):
    response = client.post("/gate/room", json={"code": "SF1234567890", "room": "2-902"},
                           headers=SAME_SITE)
    view = response.get_json()["view"]
    assert view["kind"] == "checkin" and view["parcel"]
    answer = press(client, view["parcel"]).get_json()
    assert (answer["fresh"], answer["door_delivery"]) == (True, False)  # collected at the shelf
    assert is_fresh(conn, view["parcel"])


def test_a_parcel_checked_in_too_long_ago_is_refused(client, conn, community, clock):
    view = shown_check_in(client, conn, community, clock)
    clock.advance(gate.FRESH_KEY_MS / 1000 + 1)
    response = press(client, view["parcel"])
    assert response.status_code == 409
    assert response.get_json()["error"] == "not_just_checked_in"
    assert not is_fresh(conn, view["parcel"]) and team_notices(conn) == []


def test_the_key_works_until_the_last_moment(client, conn, community, clock):
    view = shown_check_in(client, conn, community, clock)
    clock.advance(gate.FRESH_KEY_MS / 1000)
    assert press(client, view["parcel"]).get_json()["fresh"] is True


def test_a_parcel_not_checked_in_at_the_gate_is_refused(client, conn, community, clock):
    """Staff's `shelf checkin` at the desk, or any other parcel: not the gate's to mark."""
    after = start(client)
    outcome = act_on_carrier("JD0001234567890", SqliteUnitOfWork(conn),
                             Rules.from_config(community), clock, room="2-902", source="cli")
    assert outcome.action == "checkin"
    [view] = state(client, after)["views"]  # shown, but with no key under it
    assert (view["kind"], view["parcel"]) == ("checkin", None)
    for parcel in (outcome.parcel, outcome.parcel + 100):
        response = press(client, parcel)
        assert (response.status_code, response.get_json()["error"]) == (409,
                                                                        "not_just_checked_in")
    assert not is_fresh(conn, outcome.parcel)


def test_a_parcel_collected_since_is_refused_with_the_reason(client, conn, community, clock):
    view = shown_check_in(client, conn, community, clock, "24-2403")
    code = rows(conn, "SELECT code FROM pickup_codes")[0]["code"]
    assert act_on_code(code, SqliteUnitOfWork(conn), Rules.from_config(community),
                       clock).action == "pickup"
    answer = press(client, view["parcel"]).get_json()
    assert (answer["fresh"], answer["error"]) == (False, "already_collected")
    assert not is_fresh(conn, view["parcel"])


@pytest.mark.parametrize("address", ["192.168.1.20", "fe80::1"])
def test_only_the_gate_s_own_display_may_press_it(client, conn, community, clock, address):
    view = shown_check_in(client, conn, community, clock)
    response = press(client, view["parcel"], environ_base={"REMOTE_ADDR": address})
    assert (response.status_code, response.get_json()["error"]) == (403, "not_the_gate")
    assert not is_fresh(conn, view["parcel"])


@pytest.mark.parametrize("headers", [
    {},  # no Origin
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
])
def test_a_press_from_another_site_marks_nothing(client, conn, community, clock, headers):
    view = shown_check_in(client, conn, community, clock)
    response = press(client, view["parcel"], headers=headers)
    assert (response.status_code, response.get_json()["error"]) == (403, "cross_site")
    form = client.post("/gate/fresh", data={"parcel": view["parcel"]}, headers=SAME_SITE)
    assert form.status_code == 403
    assert not is_fresh(conn, view["parcel"])


@pytest.mark.parametrize("body", [{}, {"parcel": "1"}, {"parcel": True}, {"parcel": 0},
                                  {"parcel": 1.0}, [1]])
def test_a_malformed_press_is_refused(client, body):
    response = client.post("/gate/fresh", json=body, headers=SAME_SITE)
    assert (response.status_code, response.get_json()["error"]) == (400, "bad_request")
