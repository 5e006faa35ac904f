"""Each gate its own credential: it writes its own records only, and says which schema it is."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from compound import COMMUNITY, compound
from conftest import ADMIN_PASSWORD, check_in, make_app

from kiosk.centre.db import connect
from kiosk.centre.gates import add_gate, rotate
from kiosk.migrations import load
from kiosk.store.journal import Journal
from kiosk.sync.gate import _request
from kiosk.sync.link import HttpLink
from kiosk.sync.protocol import CredentialRefused, NotThisGate, UpgradeRequired


@pytest.fixture
def two_gates(tmp_path, community_template, centre_url, clock):
    with compound(tmp_path, community_template, centre_url, ("north", "south"),
                  clock) as (centre, url, gates):
        yield url, gates


def request_of(gate, clock) -> dict:
    journal = Journal(gate.conn)
    journal.join()
    return _request(gate.conn, gate.config, journal, journal.pending(100), clock)


def test_a_gate_cannot_write_another_gates_records(two_gates, centre_url, clock, caplog):
    url, gates = two_gates
    north, south = gates["north"], gates["south"]
    check_in(south.conn, south.config, clock, "2-902", "SOUTH1")
    forged = request_of(south, clock)  # south's records ...
    with pytest.raises(NotThisGate):  # ... sent with north's credential
        HttpLink(url, north.config.centre.token).exchange(forged)
    forged["community"] = "another-garden"
    with pytest.raises(NotThisGate):
        HttpLink(url, north.config.centre.token).exchange(forged)
    with pytest.raises(CredentialRefused):
        HttpLink(url, "x" * 43).exchange(request_of(north, clock))
    with connect(centre_url) as pg:
        assert pg.execute("SELECT count(*) AS n FROM sync_records").fetchone()["n"] == 0
    for secret in (north.config.centre.token, south.config.centre.token):
        assert secret not in caplog.text  # a credential is never logged


def test_a_rotated_credential_ends_the_old_one(two_gates, centre_url, clock):
    url, gates = two_gates
    north = gates["north"]
    assert north.sync(clock).centre == "reachable"
    with connect(centre_url) as pg:
        new = rotate(pg, COMMUNITY, "north", clock.now(), actor="tests")
        with pytest.raises(Exception, match="registered already"):
            add_gate(pg, COMMUNITY, "north", clock.now(), actor="tests")
    refused = north.sync(clock)
    assert (refused.centre, refused.error.split(":")[0]) == (
        "refused", "the centre does not know this gate's token")
    assert HttpLink(url, new.token).exchange(request_of(north, clock))["applied"] is None


@pytest.mark.parametrize("schema, accepted", [
    (len(load("sqlite")), True), (len(load("sqlite")) - 1, True),
    (len(load("sqlite")) - 2, False), (len(load("sqlite")) + 1, False)])
def test_the_centre_takes_its_own_schema_and_the_one_before(two_gates, clock, schema,
                                                             accepted):
    url, gates = two_gates
    north = gates["north"]
    request = request_of(north, clock) | {"schema": schema}
    link = HttpLink(url, north.config.centre.token)
    if accepted:
        assert link.exchange(request)["protocol"] == 1
        return
    with pytest.raises(UpgradeRequired, match="upgrade required") as refused:
        link.exchange(request)
    side = "centre" if schema > len(load("sqlite")) else "gate"
    assert str(refused.value).endswith(f"upgrade the {side}")


def test_a_gate_of_a_compound_refuses_to_change_what_its_centre_owns(two_gates, clock):

    url, gates = two_gates
    north = gates["north"]
    app = make_app(north.config, clock)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
    client.post("/login", data={"csrf_token": token, "username": "admin",
                                "password": ADMIN_PASSWORD})
    page = client.get("/households")
    assert page.status_code == 200  # seen, as ever
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    refused = client.post("/admin/users", data={"csrf_token": token, "username": "wang",
                                                "role": "gate", "password": "a long password"})
    assert refused.status_code == 403 and "此项由小区中心决定" in refused.text
    for args in (["households", "import", "x.csv", "--apply"],
                 ["users", "disable", "admin"]):
        done = subprocess.run([sys.executable, "-m", "kiosk.app", *args, "--config",
                               str(north.config.path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and "centre" in done.stderr, done.stderr
