"""Every place a room is typed reads it as people write it (issue 20), through the one parser
(``HouseholdId.parse``): ``24-2304``, ``24栋2304室``, ``24/2304``. Anything else is refused,
saying how to type a room: the command's options (real ``shelf`` processes), the gate's typed
room, ``POST /api/expected``, and the staff site's search boxes.
"""

from __future__ import annotations

import pytest
from conftest import check_in
from test_cli_carrier import one_json, shelf
from test_gate import SAME_SITE
from test_web import AuthActions
from test_web_expected import bearer

from kiosk.observation import set_observation
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

FORMS = ["24-2304", "24栋2304室", "24/2304"]
GARBAGE = "24栋"  # a building without its room
HOW = "e.g. 24-2304, 24栋2304室 or 24/2304"


# --- the command line -------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_every_room_option_of_the_command_reads_each_form(community, conn, clock, form):
    label = shelf(community, "label", "--household", form)
    assert label.returncode == 0, label.stderr
    assert label.stdout.startswith("DS1:24-2304:")

    expected = shelf(community, "expect", "--household", form, "--code", "SF1234567890",
                     "--json")
    assert expected.returncode == 0, expected.stderr
    assert one_json(expected)["household"] == "24-2304"

    # 24-2304 is easily confused with 24-2403: the waybill's phone tail settles it.
    done = shelf(community, "checkin", "--code", "JD0001112223", "--room", form,
                 "--phone-tail", "2304", "--json")
    assert done.returncode == 0, done.stderr
    assert (one_json(done)["household"], one_json(done)["room_confirmed"]) == ("24-2304", True)

    set_observation("24-2304", True, SqliteUnitOfWork(conn), Rules.from_config(community),
                    clock, actor="test")
    task = conn.execute("SELECT id FROM door_tasks WHERE household_id = '24-2304'").fetchone()[0]
    delivered = shelf(community, "deliver", task, "--room", form, "--json")
    assert delivered.returncode == 0, delivered.stderr
    assert (one_json(delivered)["action"], one_json(delivered)["household"]) == (
        "delivered", "24-2304")


@pytest.mark.parametrize(("lang", "says"), [
    ("en", f'"{GARBAGE}" is not a room: type building and room, {HOW}'),
    ("zh", f"“{GARBAGE}”不是房号：请写楼栋和房号，例如 24-2304、24栋2304室 或 24/2304"),
])
def test_every_room_option_refuses_what_is_no_room_saying_how_to_type_one(community, conn,
                                                                          clock, lang, says):
    check_in(conn, community, clock, "24-2304")
    set_observation("24-2304", True, SqliteUnitOfWork(conn), Rules.from_config(community),
                    clock, actor="test")
    task = conn.execute("SELECT id FROM door_tasks").fetchone()[0]
    for args, code, prefix in [
            (("label", "--household", GARBAGE), 2, "error"),
            (("expect", "--household", GARBAGE, "--code", "SF1234567890"), 1, "refused"),
            (("checkin", "--code", "JD0001112223", "--room", GARBAGE), 1, "refused"),
            (("deliver", task, "--room", GARBAGE), 1, "refused")]:
        done = shelf(community, "--lang", lang, *args)
        assert done.returncode == code, (args, done.stderr)
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith(f"shelf: {prefix if lang == 'en' else ''}") and line.endswith(
            says), (args, line)
    assert conn.execute("SELECT COUNT(*) FROM expected").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] == 1
    assert conn.execute("SELECT status FROM door_tasks").fetchone()[0] == "open"


def test_a_refused_checkin_in_json_keeps_its_keys_and_names_the_room_typed(community):
    """``--json`` is a contract: the same keys as before; ``given`` says the room whole."""
    unknown = shelf(community, "checkin", "--code", "JD0001112223", "--room", "24栋2340室",
                    "--json")
    refused = one_json(unknown)
    assert (refused["error"], refused["given"], refused["suggestions"]) == (
        "unknown_household", "24-2340", ["24-2304"])
    assert refused["message"] == ("24-23** is not in the household list: check the room on the "
                                  "waybill")  # the core's message: logged, so masked
    garbage = one_json(shelf(community, "checkin", "--code", "JD0001112223", "--room", GARBAGE,
                             "--json"))
    assert (garbage["error"], garbage["given"]) == ("unknown_household", None)
    assert set(garbage) == set(refused)


# --- the gate, the API, the staff site --------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_the_gate_s_typed_room_reads_each_form(client, form):
    response = client.post("/gate/room", json={"code": "JD0001112223", "room": form,
                                               "phone_tail": "2304"}, headers=SAME_SITE)
    view = response.get_json()["view"]
    assert (view["kind"], view["household"]["id"], view["room_confirmed"]) == (
        "checkin", "24-23**", True)


def test_the_gate_refuses_a_typed_room_that_is_none(client, conn):
    response = client.post("/gate/room", json={"code": "JD0001112223", "room": GARBAGE},
                           headers=SAME_SITE)
    view = response.get_json()["view"]
    assert (view["kind"], view["error"]) == ("refused", "unknown_household")
    assert conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] == 0


@pytest.mark.parametrize("form", FORMS)
def test_an_announcement_names_its_household_in_each_form(client, community, form):
    made = client.post("/api/expected", json={"household": form, "code": "SF1234567890"},
                       headers=bearer(community))
    assert (made.status_code, made.json["household"]) == (201, "24-2304")


def test_an_announcement_for_what_is_no_room_says_how_to_type_one(client, community, conn):
    refused = client.post("/api/expected", json={"household": GARBAGE, "code": "SF1234567890"},
                          headers=bearer(community))
    assert (refused.status_code, refused.json["error"]) == (422, "unknown_household")
    assert HOW in refused.json["message"]
    assert conn.execute("SELECT COUNT(*) FROM expected").fetchone()[0] == 0


@pytest.mark.parametrize("form", FORMS)
def test_the_staff_search_boxes_read_each_form(client, community, conn, clock, form):
    parcel = check_in(conn, community, clock, "24-2304").parcel
    assert AuthActions(client).login().status_code == 302
    found = client.get("/search", query_string={"q": form}).text
    assert f'href="/parcels/{parcel}"' in found
    households = client.get("/households", query_string={"q": form}).text
    assert 'href="/households/24-2304"' in households
    assert 'href="/households/24-2403"' not in households
