"""The compound's pages at its centre (issue 21), on two real gates (each its own SQLite file,
syncing over HTTP) and a real PostgreSQL: every gate's grid grouped by gate, search and a
parcel's timeline across gates, one door visit for a household with parcels at two gates
(waiting for each gate until it applied it), a hand-out decided at the centre, the counts
(the sum of the gates'), the exceptions, overdue parcels, the gates' health and the sync's
alarms (the administrators')."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date

import pytest
from compound import COMMUNITY, Gate, compound
from conftest import ADMIN_PASSWORD, CHEAP_HASHER, PATIENCE_S, check_in, pickup_code

from kiosk.centre.db import connect
from kiosk.centre.lists import import_households_at_centre
from kiosk.centre.store import CentreUnitOfWork
from kiosk.config import Config
from kiosk.observation import set_observation
from kiosk.passwords import hash_password
from kiosk.services import Rules, act_on_code, check_in_carrier
from kiosk.staff import add_staff
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal
from kiosk.tasks import act_on_door
from web.centre import create_centre_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DAY = date(2026, 11, 29)  # the tests' clock: 16:00 in Shanghai, the committee on duty
STAFF = {"admin": ("admin", None), "li": ("committee", "committee"),
         "zhang": ("property", "property"), "mensheng": ("gate", None)}


@dataclass
class Site:
    app: object
    centre: Config
    url: str
    north: Gate
    south: Gate

    def sync(self, clock) -> None:
        for gate in (self.north, self.south):
            report = gate.sync(clock)
            assert (report.centre, report.pending) == ("reachable", 0), report


@pytest.fixture
def site(tmp_path, community_template, centre_url, clock):
    """Two gates of one compound, the centre's site, its staff and its household list."""
    with compound(tmp_path, community_template, centre_url, ("north", "south"),
                  clock) as (centre, url, gates):
        with connect(centre_url) as pg:
            uow = CentreUnitOfWork(pg, COMMUNITY)
            for username, (role, team) in STAFF.items():
                password = ADMIN_PASSWORD if role == "admin" else f"{username} pass"
                add_staff(uow, clock.now(), username=username, name=username.title(),
                          role=role, team=team, actor="tests",
                          password_hash=hash_password(password, hasher=CHEAP_HASHER),
                          teams=[t.id for t in centre.teams])
            households = community_template / "households.csv"
            report, _ = import_households_at_centre(
                pg, COMMUNITY, centre.community.buildings, households.name,
                households.read_bytes(), clock.now(), actor="tests", apply=True,
                rules=Rules.from_config(centre))
            assert report.applied
        for gate in gates.values():  # each gate has the centre's list before the test begins
            assert gate.sync(clock).pulled == 1
        app = create_centre_app(centre, clock=clock)
        app.config["TESTING"] = True
        yield Site(app, centre, url, gates["north"], gates["south"])


def signed_in(app, username: str):
    client = app.test_client()
    password = ADMIN_PASSWORD if username == "admin" else f"{username} pass"
    token = CSRF_RE.search(client.get("/login").text)[1]
    answer = client.post("/login", data={"csrf_token": token, "username": username,
                                         "password": password})
    assert answer.status_code == 302, answer.text[:300]
    return client


def csrf(client, path: str) -> str:
    return CSRF_RE.search(client.get(path).text)[1]


def section(page: str, gate: str) -> str:
    """One gate's part of the compound's grid."""
    start = page.index(f'<section class="gate-shelves" data-gate="{gate}"')
    end = page.find('<section class="gate-shelves"', start + 1)
    return page[start:] if end < 0 else page[start:end]


def test_the_compound_shelf_draws_each_gates_own_grid_and_swaps_only_on_change(site, clock):
    north, south = site.north, site.south
    check_in(north.conn, north.config, clock, "24-2304", "NORTH-1")
    check_in(north.conn, north.config, clock, "29-1004", "NORTH-DOOR")  # under observation
    check_in(south.conn, south.config, clock, "2-902", "SOUTH-1")
    site.sync(clock)
    client = signed_in(site.app, "li")

    page = client.get("/?lang=en").text
    assert page.index('gate-shelves" data-gate="north"') < page.index(
        'gate-shelves" data-gate="south"')
    for gate, ref in ((north, "NORTH-1"), (south, "SOUTH-1")):
        part = section(page, gate.id)
        assert f"{gate.id.title()} gate" in part and ref in part
        assert 'data-slot="A-05"' in part  # an empty slot too: the gate's whole layout
        assert "Gate shelf A" in part and "Gate shelf B" in part
    assert "SOUTH-1" not in section(page, "north")
    slot_of = dict(north.conn.execute("SELECT ref, slot_code FROM parcels").fetchall())
    card = section(page, "north").split(f'data-slot="{slot_of["NORTH-1"]}"')[1]
    assert card.index("NORTH-1") < card.index("</article>")
    assert "3 parcels waiting" in page and "2 gates" in page

    door = client.get("/?show=door&lang=en").text
    assert "NORTH-DOOR" in door and "SOUTH-1" not in door and "NORTH-1" not in door

    first = client.get("/shelf/grid?lang=en").json
    again = client.get(f"/shelf/grid?since={first['version']}&lang=en").json
    assert again["version"] == first["version"] and "html" not in again
    check_in(south.conn, south.config, clock, "2-902", "SOUTH-2")
    assert "html" not in client.get(f"/shelf/grid?since={first['version']}").json  # not synced
    south.sync(clock)
    changed = client.get(f"/shelf/grid?since={first['version']}&lang=en").json
    assert changed["version"] != first["version"] and "SOUTH-2" in changed["html"]

    slot = client.get(f"/shelf/north/slot/{slot_of['NORTH-1']}?lang=en").text
    origin = north.journal().state().epoch[:8]
    parcel = north.conn.execute("SELECT id FROM parcels WHERE ref = 'NORTH-1'").fetchone()[0]
    assert f'href="/parcels/north/{parcel}?origin={origin}"' in slot
    assert client.get("/shelf/north/slot/Z-99").status_code == 404


def test_search_finds_a_room_in_any_form_a_waybill_and_a_phone_across_gates(site, clock):
    north, south = site.north, site.south
    check_in(north.conn, north.config, clock, "24-2304", "N-2304")
    check_in(south.conn, south.config, clock, "24-2304", "S-2304")
    check_in(south.conn, south.config, clock, "24-2403", "S-2403")
    site.sync(clock)
    client = signed_in(site.app, "zhang")

    for typed in ("24-2304", "24栋2304室", "24/2304", "２４－２３０４"):
        found = client.get("/search", query_string={"q": typed, "lang": "en"}).text
        assert "N-2304" in found and "S-2304" in found, typed
        assert found.index("S-2304") < found.index("S-2403")  # the room, then its near miss
        assert "North gate" in found and "South gate" in found
    by_phone = client.get("/search?q=2304&lang=en").text  # 138 0000 2304's last digits
    assert "N-2304" in by_phone and "S-2304" in by_phone
    by_waybill = client.get("/search?q=S-2403&lang=en").text
    assert "S-2403" in by_waybill and "N-2304" not in by_waybill
    assert signed_in(site.app, "mensheng").get("/search?q=2304").status_code == 403

    link = re.search(r'href="(/parcels/south/\d+\?origin=[0-9a-f]{8})"[^>]*>\s*<span class='
                     r'"found-head">\s*<span class="gate-chip">South gate</span>\s*<span '
                     r'class="household">24-2403', by_waybill)[1]
    timeline = client.get(link + "&lang=en").text
    assert "South gate" in timeline and "S-2403" in timeline
    assert re.search(r'href="/shelf/south/slot/[A-Z]-\d\d">← Back to slot South gate [A-Z]-\d\d<',
                     timeline)  # both gates have that slot: the way back says whose
    assert "Checked in by the courier" in timeline and 'data-kind="checked_in"' in timeline
    assert client.get("/parcels/south/999?lang=en").status_code == 404


def test_a_hand_out_at_the_centre_waits_for_its_gate_and_a_refusal_comes_back(site, clock):
    north, south = site.north, site.south
    kept = check_in(north.conn, north.config, clock, "2-902", "N-902").parcel
    taken = check_in(south.conn, south.config, clock, "2-2603", "S-2603").parcel
    site.sync(clock)
    client = signed_in(site.app, "zhang")
    page = f"/parcels/north/{kept}"
    token = csrf(client, page)
    missing = client.post(page + "/hand-out?lang=en", data={"csrf_token": token,
                                                             "reason": "neighbour"})
    assert missing.status_code == 422 and "ID" in missing.text  # the ID check is asked for

    done = client.post(page + "/hand-out", data={"csrf_token": token, "id_checked": "yes",
                                                  "reason": "her son, ID seen"})
    assert done.status_code == 302
    waiting = client.get(done.location + "&lang=en").text
    assert "waiting for the North gate" in waiting and "act_hand_out" not in waiting
    assert 'action="/parcels/north/' not in waiting  # no second hand-out while it waits
    shelf = client.get("/?lang=en").text
    assert "N-902" in section(shelf, "north")  # still on that shelf
    for page_with_box, box in ((shelf, 'class="waiting-commands"'),
                               (client.get("/gates?lang=en").text, 'id="waiting"')):
        waits = page_with_box.split(box)[1].split("</section>")[0]
        assert "2-902 N-902</a>" in waits  # the parcel as staff know it, not its number
    assert north.conn.execute("SELECT status FROM parcels WHERE id = ?", (kept,)).fetchone()[0] \
        == "waiting"

    north.sync(clock)
    applied = client.get(done.location + "&lang=en").text
    assert "applied by the North gate" in applied and "waiting for the" not in applied
    assert "N-902" not in client.get("/?lang=en").text
    assert north.conn.execute("SELECT status FROM parcels WHERE id = ?", (taken,)).fetchone() \
        is not None  # the same number at the other gate is another parcel
    actor = north.conn.execute("SELECT actor FROM events WHERE kind = 'handed_out'").fetchone()
    assert actor[0] == "zhang@centre"

    other = f"/parcels/south/{taken}"
    client.post(other + "/hand-out", data={"csrf_token": token, "id_checked": "yes",
                                           "reason": "asked at the office"})
    act_on_code(pickup_code(south.conn, "2-2603"), SqliteUnitOfWork(south.conn),
                Rules.from_config(south.config), clock)  # meanwhile collected at the shelf
    south.sync(clock)
    refused = client.get(other + "?lang=en").text
    assert "refused by the South gate" in refused and "waiting for the" not in refused


def test_one_door_visit_for_a_household_with_parcels_at_two_gates(site, clock, centre_url):
    north, south = site.north, site.south
    check_in(north.conn, north.config, clock, "29-1004", "N-FOOD")  # under observation
    check_in(south.conn, south.config, clock, "29-1004", "S-BOOK")
    check_in(south.conn, south.config, clock, "29-2603", "S-OTHER")
    site.sync(clock)
    li = signed_in(site.app, "li")  # the committee: buildings 29-35 until 17:30

    tasks = li.get("/tasks?lang=en").text
    assert tasks.count('data-task="29-1004"') == 1 and tasks.count('data-task="29-2603"') == 1
    visit = tasks.split('data-task="29-1004"')[1].split("</li>")[0]
    assert "N-FOOD" in visit and "S-BOOK" in visit
    assert "North gate" in visit and "South gate" in visit and "2 parcel(s)" in visit
    assert 'data-task="29' not in signed_in(site.app, "zhang").get("/tasks").text  # not theirs

    door = "/tasks/29-1004"
    page = li.get(door + "?lang=en").text
    assert "N-FOOD" in page and "S-BOOK" in page and 'name="building"' in page
    token = csrf(li, door)
    wrong = li.post(door + "/door?lang=en", data={"csrf_token": token, "building": "29",
                                                  "room": "2603"})
    assert wrong.status_code == 409 and "29-2603" in wrong.text and "29-1004" in wrong.text
    with connect(centre_url) as pg:
        refused = pg.execute("SELECT household_id, detail FROM centre_events"
                             " WHERE kind = 'door_refused'").fetchall()
    assert [(r["household_id"], r["detail"]["given"]) for r in refused] == [
        ("29-1004", "29-2603")]  # kept, though the confirmation was refused

    sent = li.post(door + "/door", data={"csrf_token": token, "building": "29",
                                         "room": "1004"})
    assert sent.status_code == 302
    both = li.get(door + "?lang=en").text
    assert "waiting for the North gate" in both and "waiting for the South gate" in both
    assert 'name="building"' not in both  # told already: nothing more to confirm
    listed = li.get("/tasks?lang=en").text.split('data-task="29-1004"')[1].split("</li>")[0]
    assert "waiting for the North gate" in listed and "N-FOOD" in listed

    north.sync(clock)
    half = li.get(door + "?lang=en").text
    assert "waiting for the North gate" not in half and "waiting for the South gate" in half
    assert "N-FOOD" not in half and "S-BOOK" in half
    shelf = li.get("/?lang=en").text
    assert "N-FOOD" not in shelf and "S-BOOK" in shelf

    south.sync(clock)
    assert 'data-task="29-1004"' not in li.get("/tasks?lang=en").text
    done = li.get(door + "?lang=en").text
    assert "door-done" in done and "waiting for the" not in done and "Li" in done
    for gate in (north, south):
        delivered = gate.conn.execute("SELECT actor FROM events WHERE kind = 'delivered'")
        assert [r[0] for r in delivered] == ["li@centre"]


def test_a_delivery_a_gate_refuses_is_shown_as_refused(site, clock):
    north = site.north
    check_in(north.conn, north.config, clock, "29-2603", "N-LATE")  # under observation
    site.sync(clock)
    li = signed_in(site.app, "li")
    token = csrf(li, "/tasks/29-2603")
    assert li.post("/tasks/29-2603/door", data={"csrf_token": token, "building": "29",
                                                "room": "2603"}).status_code == 302
    set_observation("29-2603", False, SqliteUnitOfWork(north.conn),  # released at the gate
                    Rules.from_config(north.config), clock, actor="tests")
    north.sync(clock)
    tasks = li.get("/tasks?lang=en").text
    assert "Refused by a gate" in tasks and "refused by the North gate" in tasks
    assert 'data-task="29-2603"' not in tasks  # the task was cancelled at its gate


def shelf_cli(config: Config, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "kiosk.app", *args, "--config",
                           str(config.path)], capture_output=True, text=True, timeout=PATIENCE_S)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_compounds_counts_are_the_sum_of_its_gates(site, clock):
    north, south = site.north, site.south
    for ref in ("N1", "N2"):
        check_in(north.conn, north.config, clock, "2-902", ref)
    check_in(north.conn, north.config, clock, "29-1004", "N-DOOR")
    act_on_code(pickup_code(north.conn, "2-902"), SqliteUnitOfWork(north.conn),
                Rules.from_config(north.config), clock)
    task = check_in(south.conn, south.config, clock, "29-1004", "S-DOOR").door_task
    by_hand = check_in(south.conn, south.config, clock, "24-2304", "S1").parcel
    act_on_door(task.id, "29-1004", SqliteUnitOfWork(south.conn),
                Rules.from_config(south.config), clock, actor="zhao@web", source="web")
    site.sync(clock)
    li = signed_in(site.app, "li")
    token = csrf(li, "/tasks/29-1004")
    li.post("/tasks/29-1004/door", data={"csrf_token": token, "building": "29",
                                         "room": "1004"})
    zhang = signed_in(site.app, "zhang")
    handed = zhang.post(f"/parcels/south/{by_hand}/hand-out", data={
        "csrf_token": csrf(zhang, f"/parcels/south/{by_hand}"), "id_checked": "yes",
        "reason": "her son, ID seen"})
    assert handed.status_code == 302
    clock.advance(60)
    site.sync(clock)

    day = ("counts", "--json", "--date", DAY.isoformat())
    own = {gate.id: shelf_cli(gate.config, *day) for gate in (north, south)}  # each gate's own
    compound = shelf_cli(site.centre, *day)
    for key, value in compound["totals"].items():
        assert value == sum(c["totals"][key] for c in own.values()), key
    assert {g["gate"]: {k: g[k] for k in compound["totals"]} for g in compound["gates"]} == {
        gate: counts["totals"] for gate, counts in own.items()}
    assert {k: compound["totals"][k] for k in ("checked_in", "delivered", "handed_out",
                                               "waiting")} == {
        "checked_in": 5, "delivered": 2, "handed_out": 3, "waiting": 0}  # N1, N2 by code

    def summed(rows_of, key: str) -> dict:
        total: dict = {}
        for counts in own.values():
            for row in counts[rows_of]:
                name = tuple(row[k] for k in key.split(","))
                numbers = total.setdefault(name, {})
                for k, v in row.items():
                    if isinstance(v, int):
                        numbers[k] = numbers.get(k, 0) + v
        return total

    assert {(r["team"],): {k: v for k, v in r.items() if k != "team"}
            for r in compound["teams"]} == summed("teams", "team")
    assert {(r["person"], r["team"]): {k: v for k, v in r.items()
                                       if k not in ("person", "team")}
            for r in compound["people"]} == summed("people", "person,team")
    assert {"li@centre", "zhao@web"} <= {r["person"] for r in compound["people"]}

    page = li.get(f"/counts?date={DAY}&lang=en").text
    row = page.split('data-gate="south"')[1].split("</tr>")[0]
    checked_in = own["south"]["totals"]["checked_in"]
    assert "South gate" in row and f'data-count="checked_in">{checked_in}<' in row
    csv = li.get(f"/counts.csv?date={DAY}&lang=en").get_data(as_text=True)
    assert "gate,,,North gate," in csv and "Li," in csv


def test_exceptions_overdue_and_the_alarms_of_the_sync_across_gates(site, clock):
    north, south = site.north, site.south
    rules = Rules.from_config(north.config)
    kept = check_in_carrier("SF1234567890", SqliteUnitOfWork(north.conn), rules, clock,
                            room="24-2304", phone_tail="2403", keep_room=True)
    assert kept.room_confirmed is False
    asked = check_in_carrier("JD0987654321", SqliteUnitOfWork(south.conn),
                             Rules.from_config(south.config), clock)
    assert asked.action == "needs_room"
    for gate in (south, north):  # scanned again at the south gate, and once at the north
        check_in_carrier("JD0987654321", SqliteUnitOfWork(gate.conn),
                         Rules.from_config(gate.config), clock)
    check_in(south.conn, south.config, clock, "2-902", "OLD-ONE")
    clock.advance(2 * 24 * 3600)
    check_in(north.conn, north.config, clock, "2-902", "NEW-ONE")
    site.sync(clock)
    zhang = signed_in(site.app, "zhang")

    exceptions = zhang.get("/exceptions?lang=en").text
    unconfirmed = exceptions.split('id="exc-unconfirmed"')[1].split("</section>")[0]
    assert "SF1234567890" in unconfirmed and "North gate" in unconfirmed
    refused = exceptions.split('id="exc-refused"')[1].split("</section>")[0]
    assert "JD0987654321" in refused and "South gate" in refused
    rows = {row.split('class="gate-chip">')[1].split("<")[0]: row
            for row in refused.split("<li")[1:] if "JD0987654321" in row}
    assert set(rows) == {"North gate", "South gate"}  # one row a gate, each with how often
    assert "scanned 2 times" in rows["South gate"] and "scanned" not in rows["North gate"]
    overdue = zhang.get("/overdue?lang=en").text
    assert "OLD-ONE" in overdue and "South gate" in overdue and "NEW-ONE" not in overdue

    Journal(south.conn).new_epoch()  # what `shelf restore` does
    check_in(south.conn, south.config, clock, "2-902", "AFTER")
    south.sync(clock)
    admin = signed_in(site.app, "admin")
    alarm = "The South gate was restored from a backup"
    assert alarm in admin.get("/?lang=en").text
    assert alarm not in zhang.get("/?lang=en").text and alarm not in zhang.get(
        "/gates?lang=en").text  # the administrators'
    gates = admin.get("/gates?lang=en").text
    assert alarm in gates
    alarm_id = re.search(r'data-alarm="(\d+)"', gates)[1]
    assert zhang.post(f"/gates/alarms/{alarm_id}/resolve",
                      data={"csrf_token": csrf(zhang, "/gates")}).status_code == 403
    assert admin.post(f"/gates/alarms/{alarm_id}/resolve",
                      data={"csrf_token": csrf(admin, "/gates")}).status_code == 302
    assert alarm not in admin.get("/gates?lang=en").text


def test_each_gates_health_on_its_page_and_in_healthz(site, clock):
    north, south = site.north, site.south
    north.conn.execute("INSERT INTO kiosk_heartbeat (id, beat_at) VALUES (1, ?)"
                       " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
                       (clock.now().isoformat(),))
    SqliteUnitOfWork(south.conn).events.add("camera_lost", "kiosk", clock.now(),
                                            reason="unplugged")
    check_in(south.conn, south.config, clock, "2-902", "UNSENT")
    site.sync(clock)
    check_in(north.conn, north.config, clock, "2-902", "NOT-YET")  # written after the sync
    clock.advance(20)

    health = site.app.test_client().get("/healthz").json
    gates = {g["gate"]: g for g in health["gates"]}
    for gate in gates.values():
        assert {"gate", "last_sync_at", "pending", "lag_s", "kiosk_heartbeat_age_s",
                "camera_lost"} <= set(gate)
    assert gates["north"]["kiosk_heartbeat_age_s"] == 20.0
    assert gates["south"]["kiosk_heartbeat_age_s"] is None
    assert (gates["north"]["camera_lost"], gates["south"]["camera_lost"]) == (False, True)
    assert gates["north"]["pending"] == 0  # what its last sync said

    page = signed_in(site.app, "li").get("/gates?lang=en").text
    south_row = page.split('data-gate="south"')[1].split("</tr>")[0]
    assert "camera lost" in south_row and "South gate" in south_row
    north_row = page.split('data-gate="north"')[1].split("</tr>")[0]
    assert "20 s ago" in north_row
    shelf = signed_in(site.app, "li").get("/?lang=en").text
    assert "camera lost" in section(shelf, "south") and "camera lost" not in section(shelf,
                                                                                      "north")
    assert "not heard from" not in page + shelf

    clock.advance(10 * 60 - 20)
    south.sync(clock)  # the north gate's sync stopped ten minutes ago; the south's runs
    page = signed_in(site.app, "li").get("/gates?lang=en").text
    north_sync = page.split('data-gate="north"')[1].split('data-key="last_sync_at"')[1]
    assert 'class="bad"' in north_sync.split(">")[0] and "not heard from for 10 min" in \
        north_sync.split("</td>")[0]
    assert "not heard from" not in page.split('data-gate="south"')[1].split("</tr>")[0]
    shelf = signed_in(site.app, "li").get("/?lang=en").text
    assert "not heard from for 10 min" in section(shelf, "north")
    assert "not heard from" not in section(shelf, "south")
    gates = {g["gate"]: g for g in site.app.test_client().get("/healthz").json["gates"]}
    # The north sent all it had ten minutes ago; what it did since is unknown here: the
    # centre's copy of it may be ten minutes behind, and says so.
    assert (gates["north"]["pending"], gates["north"]["lag_s"], gates["north"]["quiet"]) == (
        0, 600.0, True)
    assert (gates["south"]["pending"], gates["south"]["lag_s"], gates["south"]["quiet"]) == (
        0, 0.0, False)


def test_a_quiet_gates_lag_grows_from_what_it_had_not_sent(site, clock, centre_url):
    """A gate that had records it had not sent when last heard from: their age, carried
    forward; heard from with nothing pending: 0; quiet from SYNC_QUIET on, not before."""
    from kiosk.centre.gates import SYNC_QUIET

    north = site.north
    site.sync(clock)
    health = site.app.test_client().get("/healthz").json
    assert [(g["gate"], g["lag_s"], g["quiet"]) for g in health["gates"]] == [
        ("north", 0.0, False), ("south", 0.0, False)]
    for n in range(3):
        check_in(north.conn, north.config, clock, "2-902", f"LATE-{n}")
    cut_short = north.sync(clock, batch=1, max_rounds=1)  # then the network went
    assert cut_short.pending > 0  # a check-in journals more than one record
    with connect(centre_url) as pg:  # what the centre knows the north had not yet sent
        said = pg.execute("SELECT pending, status FROM gates WHERE id = 'north'").fetchone()
    assert said["pending"] == cut_short.pending and said["status"]["lag_s"] is not None
    quiet = SYNC_QUIET.total_seconds()
    clock.advance(quiet - 1)
    gates = {g["gate"]: g for g in site.app.test_client().get("/healthz").json["gates"]}
    assert (gates["north"]["lag_s"], gates["north"]["quiet"]) == (
        round(said["status"]["lag_s"] + quiet - 1, 1), False)
    assert (gates["south"]["lag_s"], gates["south"]["quiet"]) == (0.0, False)
    clock.advance(1)
    gates = {g["gate"]: g for g in site.app.test_client().get("/healthz").json["gates"]}
    assert (gates["south"]["lag_s"], gates["south"]["quiet"]) == (quiet, True)
    assert gates["north"]["quiet"] is True


def test_a_wrong_door_confirmed_at_the_centre_is_kept_on_record(site, clock, centre_url):
    from kiosk.centre.commands import confirm_delivery
    from kiosk.errors import WrongDoor

    north = site.north
    task = check_in(north.conn, north.config, clock, "29-1004", "N-1004").door_task
    north.sync(clock)
    with connect(centre_url) as pg:
        with pytest.raises(WrongDoor):
            confirm_delivery(pg, COMMUNITY, "north", north.journal().state().epoch, task.id,
                             "29-2603", site.centre.label_secret, actor="li", now=clock.now())
        kept = pg.execute("SELECT gate_id, household_id, actor, detail FROM centre_events"
                          " WHERE kind = 'door_refused'").fetchall()
    assert [(r["gate_id"], r["household_id"], r["actor"], r["detail"]) for r in kept] == [
        ("north", "29-1004", "li", {"given": "29-2603", "task": task.id})]


def test_the_shelf_says_what_waits_for_a_gate_until_it_applied_it(site, centre_url, clock):
    from kiosk.centre.commands import confirm_delivery

    north, south = site.north, site.south
    task = check_in(north.conn, north.config, clock, "29-1004", "NORTH-FOOD").door_task
    check_in(south.conn, south.config, clock, "2-902", "SOUTH-BOOK")
    site.sync(clock)
    anonymous = site.app.test_client().get("/", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")

    client = signed_in(site.app, "li")
    page = client.get("/?lang=en").text
    assert page.index("North gate") < page.index("NORTH-FOOD") < page.index("South gate") \
        < page.index("SOUTH-BOOK")
    assert "waiting for the" not in page
    with connect(centre_url) as pg:
        confirm_delivery(pg, COMMUNITY, "north", north.journal().state().epoch, task.id,
                         "29-1004", site.centre.label_secret, actor="li", now=clock.now())
    waiting = client.get("/?lang=en").text
    assert "waiting for the North gate" in waiting
    assert "NORTH-FOOD" in section(waiting, "north")  # still there: nothing pretends
    assert "等待北门同步" in client.get("/?lang=zh").text
    north.sync(clock)
    done = client.get("/?lang=en").text
    assert "waiting for the North gate" not in done and "NORTH-FOOD" not in done


def test_a_gates_sync_needs_no_session_and_no_csrf_token_but_its_own(site):
    client = site.app.test_client()
    answer = client.post("/sync/v1", json={"gate": "north"})
    assert answer.status_code == 401 and answer.json["error"] == "credential_refused"
    answer = client.post("/sync/v1", json={"gate": "north"},
                         headers={"Authorization": f"Bearer {site.north.config.centre.token}"})
    assert answer.status_code == 403  # names no community: refused, nothing applied
    assert client.get("/healthz").json["community"] == COMMUNITY


def test_a_wrong_password_is_refused_and_the_lockouts_are_the_admins(site):
    client = site.app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    refused = client.post("/login", data={"csrf_token": token, "username": "li",
                                          "password": "not it"})
    assert refused.status_code == 200 and 'role="alert"' in refused.text
    assert signed_in(site.app, "li").get("/admin/lockouts").status_code == 403
    assert signed_in(site.app, "admin").get("/admin/lockouts").status_code == 200


def test_a_gate_that_reports_no_layout_still_shows_what_waits_on_it(site, clock, centre_url):
    north = site.north
    check_in(north.conn, north.config, clock, "2-902", "OLD-GATE")
    site.sync(clock)
    with connect(centre_url) as pg:  # as a gate of the schema before reports its health
        pg.execute("UPDATE gates SET status = status - 'layout' WHERE id = 'north'")
    page = signed_in(site.app, "li").get("/?lang=en").text
    part = section(page, "north")
    assert "OLD-GATE" in part and "Shelf not reported" in part
    assert part.count("<article") == 1  # the slot that holds it: no other slot is known


def test_a_visit_names_a_gates_overflow_place_as_such(site, clock):
    north = site.north
    floor = north.config.layout.overflow.code
    placed = [check_in(north.conn, north.config, clock, "29-1004", f"F{n:03d}")  # observed
              for n in range(100)]
    assert any(p.slot == floor for p in placed), "the household's slots never filled up"
    site.sync(clock)
    for lang, words in (("en", "North gate overflow area"), ("zh", "北门 暂存区")):
        tasks = signed_in(site.app, "li").get(f"/tasks?lang={lang}").text
        visit = tasks.split('data-task="29-1004"')[1].split("</li>")[0]
        assert words in visit and floor not in visit


def visible_text(page: str) -> str:
    """What a person reads on a page: scripts, styles and tags dropped, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


WORD_KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # what t() shows for a key it lacks
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}")  # three English words in a row
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def test_every_page_of_the_compound_speaks_each_language_whole(site, clock):
    north, south = site.north, site.south
    rules = Rules.from_config(south.config)
    handed = check_in(north.conn, north.config, clock, "2-902", "N-HAND").parcel
    check_in(north.conn, north.config, clock, "29-1004", "N-DOOR")  # under observation
    check_in(south.conn, south.config, clock, "29-1004", "S-DOOR")
    check_in_carrier("JD0987654321", SqliteUnitOfWork(south.conn), rules, clock)  # a room asked
    SqliteUnitOfWork(south.conn).events.add("camera_lost", "kiosk", clock.now(),
                                            reason="unplugged")
    site.sync(clock)
    admin = signed_in(site.app, "admin")
    page = f"/parcels/north/{handed}"
    assert admin.post(page + "/hand-out", data={"csrf_token": csrf(admin, page),
                                                "id_checked": "yes",
                                                "reason": "ID ok"}).status_code == 302
    assert admin.post("/tasks/29-1004/door", data={"csrf_token": csrf(admin, "/tasks/29-1004"),
                                                   "building": "29", "room": "1004"}
                      ).status_code == 302  # both gates to apply it: waiting for each
    Journal(south.conn).new_epoch()  # restored from a backup: an alarm for the admins
    check_in(south.conn, south.config, clock, "2-902", "S-AFTER")
    south.sync(clock)
    origin = north.conn.execute("SELECT origin FROM parcels WHERE id = ?", (handed,)).fetchone()[0]
    pages = ["/", "/search?q=2-902", f"{page}?origin={origin}", "/tasks", "/tasks/29-1004",
             "/exceptions", "/overdue", f"/counts?date={DAY}", "/gates"]

    for path in pages:
        joined = "&" if "?" in path else "?"
        chinese = visible_text(admin.get(f"{path}{joined}lang=zh").text)
        english = visible_text(admin.get(f"{path}{joined}lang=en").text)
        assert not WORD_KEY.findall(chinese) and not WORD_KEY.findall(english), path
        assert not ENGLISH.findall(chinese), (path, ENGLISH.findall(chinese))
        assert CJK.findall(english.replace("中文", "")) == [], (path, english)


def test_the_centres_database_gone_is_a_503_that_keeps_its_password(site, tmp_path, caplog):
    li = signed_in(site.app, "li")
    gone = f"postgresql://shelf:s3cret@/shelf?host={tmp_path}&port=5432"  # nothing listens
    site.app.config["CENTRE"] = replace(site.app.config["CENTRE"], database=gone)

    health = site.app.test_client().get("/healthz")
    assert (health.status_code, health.json["status"]) == (503, "centre_unavailable")
    for path in ("/", "/tasks", "/gates", "/search?q=2-902"):
        page = li.get(path + ("&" if "?" in path else "?") + "lang=en")
        assert page.status_code == 503, path
        assert "nothing was saved" in page.text and "Traceback" not in page.text
    assert "s3cret" not in caplog.text and "shelf:***@" in caplog.text
