"""One centre for many compounds: three compounds of two gates each on one PostgreSQL, every
read and every decision scoped by compound; a compound's staff see and reach only theirs."""

from __future__ import annotations

import pytest
from conftest import check_in
from district import COMPOUNDS, GATES, district, sign_in, staff_of

from kiosk.centre.commands import confirm_delivery, hand_out_at_centre, waiting_commands
from kiosk.centre.db import connect
from kiosk.centre.gates import gates_of
from kiosk.centre.queries import compound_counts, compound_shelf
from kiosk.centre.store import CentreUnitOfWork
from kiosk.errors import UnknownParcel, UnknownTask
from kiosk.observation import set_observation
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork


@pytest.fixture
def busy(tmp_path, community_template, centre_url, clock):
    """Each gate of each compound with a parcel of its own, the north gates with a door task
    (the same gate ids and the same rooms in every compound: only the compound tells). The
    gates are copies of one store, as SD cards cloned from one image would be: the same epoch,
    so only the compound tells their rows apart; the later compounds' north gates hold more
    tasks and parcels first, so their ids name nothing in the first compound."""
    with district(tmp_path, community_template, centre_url, clock) as d:
        made = {}
        for (community, gate), g in d.gates.items():
            if gate == "north":
                rules = Rules.from_config(g.config)
                for other in ("2-2603", "3-301")[:COMPOUNDS.index(community)]:
                    set_observation(other, True, SqliteUnitOfWork(g.conn), rules, clock,
                                    actor="tests")
                    check_in(g.conn, g.config, clock, other)
                set_observation("24-2304", True, SqliteUnitOfWork(g.conn),
                                Rules.from_config(g.config), clock, actor="tests")
                task = check_in(g.conn, g.config, clock, "24-2304", f"{community}-FOOD".upper())
                made[(community, "task")] = (g.journal().state().epoch, task.door_task.id)
            result = check_in(g.conn, g.config, clock, "2-902", f"{community}-{gate}-BOOK".upper())
            made[(community, gate)] = (g.journal().state().epoch, result.parcel)
            assert g.sync(clock).centre == "reachable"
        yield d, made


def test_every_read_of_the_centre_names_one_compound(busy, centre_url, clock):
    d, _ = busy
    with connect(centre_url) as pg:
        for community in COMPOUNDS:
            shelf = compound_shelf(pg, community)
            assert [g["id"] for g in shelf] == sorted(GATES)
            refs = {p["ref"] for g in shelf for s in g["slots"] for p in s["parcels"]
                    if p["household"] in ("24-2304", "2-902")}
            assert refs == {f"{community}-FOOD".upper(), f"{community}-NORTH-BOOK".upper(),
                            f"{community}-SOUTH-BOOK".upper()}
            counts = compound_counts(pg, community, clock.now().date(),
                                     d.configs[community].community.timezone)
            more = COMPOUNDS.index(community)
            assert counts["totals"]["checked_in"] == 3 + more
            assert counts["totals"]["door_tasks"] == 1 + more
            assert [g["id"] for g in gates_of(pg, community)] == sorted(GATES)
            members = CentreUnitOfWork(pg, community).staff.all()
            assert [m.username for m in members] == [staff_of(community)]


def test_a_compounds_decisions_never_reach_another_compounds_gates(busy, centre_url, clock):
    d, made = busy
    east, west = COMPOUNDS[0], COMPOUNDS[1]
    west_origin, west_task = made[(west, "task")]
    west_parcel_origin, west_parcel = made[(west, "north")]
    with connect(centre_url) as pg:
        with pytest.raises(UnknownTask):  # the same gate id, the same room: another compound
            confirm_delivery(pg, east, "north", west_origin, west_task, "24-2304",
                             d.configs[east].label_secret, actor="li", now=clock.now())
        with pytest.raises(UnknownParcel):
            hand_out_at_centre(pg, east, "north", west_parcel_origin, west_parcel,
                               reason="neighbour", id_checked=True, actor="li", now=clock.now())
        assert waiting_commands(pg, east) == [] and waiting_commands(pg, west) == []
        issued = confirm_delivery(pg, west, "north", west_origin, west_task, "24-2304",
                                  d.configs[west].label_secret, actor="li", now=clock.now())
        assert [c["gate_id"] for c in waiting_commands(pg, west)] == ["north"]
        assert waiting_commands(pg, east) == []
    for g in d.gates.values():
        g.sync(clock)
    west_north = d.gates[(west, "north")]
    assert west_north.conn.execute("SELECT status FROM door_tasks WHERE id = ?",
                                   (west_task,)).fetchone()["status"] == "delivered"
    for community in (east, COMPOUNDS[2]):  # their tasks (one of the same id) stay open
        g = d.gates[(community, "north")]
        assert g.conn.execute("SELECT count(*) AS n FROM door_tasks WHERE status = 'open'"
                              ).fetchone()["n"] == 1 + COMPOUNDS.index(community), community
    assert issued.gate == "north"


def test_a_compounds_staff_sign_in_only_at_their_compound(busy):
    d, _ = busy
    east, west = COMPOUNDS[0], COMPOUNDS[1]
    client, answer = sign_in(d.sites[east], staff_of(east))
    assert answer.status_code == 302 and answer.location == "/"
    assert f"{east}-NORTH-BOOK".upper() in client.get("/").text
    _, refused = sign_in(d.sites[west], staff_of(east))
    assert refused.status_code == 200 and 'role="alert"' in refused.text

    # The east session's cookie, replayed at the west site (the same secret key): no one.
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = d.sites[west].test_client()
    other.set_cookie("session", cookie.value)
    page = other.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.location.startswith("/login")
    assert client.get("/").status_code == 200  # and the east session itself still works


def test_a_gate_token_writes_only_its_own_compound(busy):
    d, _ = busy
    east, west = COMPOUNDS[0], COMPOUNDS[1]
    token = d.gates[(east, "north")].config.centre.token
    client = d.sites[west].test_client()  # any compound's site answers the gates
    answer = client.post("/sync/v1", json={"community": west, "gate": "north"},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403 and answer.json["error"] == "not_this_gate"
    health = client.get("/healthz").json
    assert health["community"] == west and {g["gate"] for g in health["gates"]} == set(GATES)
