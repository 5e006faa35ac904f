"""District accounts and reinforcement staff: `shelf users add NAME --role district_staff` and
`shelf users assign` at the centre (real `shelf` processes on a real PostgreSQL); an assigned
account acts in its compound while its period holds, and not a second before or after, and
never in another compound, where it only reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from conftest import ADMIN_PASSWORD
from district import COMPOUNDS, district, sign_in, staff_of

from web.auth import roles_required
from web.centre import create_centre_app

NOW = {**os.environ, "SHELF_NOW": "2026-11-29T16:00:00+08:00"}
EAST, WEST = COMPOUNDS[0], COMPOUNDS[1]


def shelf(config, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "kiosk.app", *args, "--config",
                           str(config.path)], capture_output=True, text=True, timeout=120,
                          env=NOW, input=ADMIN_PASSWORD + "\n")
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


@pytest.fixture
def two(tmp_path, community_template, centre_url, clock):
    with district(tmp_path, community_template, centre_url, clock, COMPOUNDS[:2],
                  ("north",)) as d:
        yield d


def acting_site(config, clock):
    """The compound's site with one more route that only a property member may POST to."""
    app = create_centre_app(config, clock=clock)
    app.config["TESTING"] = True
    app.add_url_rule("/act", "act", roles_required("property")(lambda: "acted"),
                     methods=["POST"])
    return app


def act(client) -> int:
    from district import CSRF_RE

    token = CSRF_RE.search(client.get("/", headers={"Accept": "text/html"}).text)[1]
    return client.post("/act", data={"csrf_token": token}).status_code


def test_an_assignment_lends_a_compound_role_for_its_period_only(two, clock):
    east = two.configs[EAST]
    added = shelf(east, "users", "add", "cadre", "--role", "district_staff", "--name", "Zhou")
    assert "cadre" in added.stdout
    lent = json.loads(shelf(east, "users", "assign", "cadre", "--community", EAST, "--role",
                            "物业", "--from", "2026-11-28", "--until", "2026-11-30",
                            "--json").stdout)
    assert lent["community"] == EAST and lent["role"] == "property"
    assert lent["team"] == "property"  # the team named like the role, as for the compound's own
    listed = json.loads(shelf(east, "users", "list", "--json").stdout)
    assert [u["username"] for u in listed["users"]] == [staff_of(EAST)]  # the compound's own
    assert [(a["username"], a["role"]) for a in listed["district"]] == [("cadre",
                                                                          "district_staff")]
    assert listed["assignments"] == [lent] and "password_hash" not in json.dumps(listed)
    starts, ends = (datetime.fromisoformat(lent[k]) for k in ("from", "until"))
    assert starts == datetime.fromisoformat("2026-11-28T00:00:00+08:00")
    assert ends == datetime.fromisoformat("2026-12-01T00:00:00+08:00")  # through the 30th

    site, elsewhere = acting_site(east, clock), acting_site(two.configs[WEST], clock)
    clock.advance((starts - clock.now()).total_seconds() - 1)  # a second too early
    client, answer = sign_in(site, "cadre")
    assert answer.status_code == 302
    assert act(client) == 403
    assert "街道工作人员" in client.get("/?lang=zh").text

    clock.advance(1)  # the period begins: the same session acts as the compound's property
    assert act(client) == 200
    assert "物业" in client.get("/?lang=zh").text
    other, answer = sign_in(elsewhere, "cadre")  # the other compound: it only reads there
    assert answer.status_code == 302 and other.get("/").status_code == 200
    assert act(other) == 403

    clock.advance((ends - clock.now()).total_seconds() - 1)
    client, _ = sign_in(site, "cadre")  # (a session idle for a day ended: a new one)
    assert act(client) == 200  # its last second
    clock.advance(1)
    assert act(client) == 403  # ended by itself: no one had to do anything
    assert client.get("/").status_code == 200  # and it still reads, as district staff

    shelf(east, "users", "disable", "cadre")  # at the centre: every site's session ends
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302
    assert sign_in(elsewhere, "cadre")[1].status_code == 200  # refused: the form again
    shelf(east, "users", "enable", "cadre")
    assert sign_in(elsewhere, "cadre")[1].status_code == 302


def test_district_and_compound_names_never_meet_and_bad_assignments_say_why(two):
    east = two.configs[EAST]
    taken = shelf(east, "users", "add", staff_of(WEST), "--role", "district_staff", ok=False)
    assert "taken" in taken.stderr and WEST in taken.stderr
    shelf(east, "users", "add", "cadre", "--role", "district_admin")
    again = shelf(two.configs[WEST], "users", "add", "cadre", "--role", "committee", ok=False)
    assert "cadre" in again.stderr
    for args, said in (
            (("--community", "nowhere", "--role", "gate"), "nowhere"),
            (("--community", EAST, "--role", "admin"), "admin"),
            (("--community", EAST, "--role", "gate", "--team", "property"), "no team"),
            (("--community", EAST, "--role", "gate", "--from", "2026-12-02"), "before")):
        period = () if "--from" in args else ("--from", "2026-11-29")
        refused = shelf(east, "users", "assign", "cadre", *args, *period, "--until",
                        "2026-11-30", ok=False)
        assert said in refused.stderr, refused.stderr
    refused = shelf(east, "users", "assign", "nobody", "--community", EAST, "--role", "gate",
                    "--from", "2026-11-29", "--until", "2026-11-30", ok=False)
    assert "no district account" in refused.stderr
