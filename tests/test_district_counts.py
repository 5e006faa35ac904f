"""The district's day: `shelf district counts --json` (a real process), `/district/counts` and
`/district/counts.csv`, on three compounds of two gates each: the district's totals are the sum
of the compounds', which are the sum of what each gate's own `shelf counts` says; a
reinforcement cadre's deliveries count for them and their team in the compound they served."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from conftest import ADMIN_PASSWORD, check_in, pickup_code
from district import COMPOUNDS, district, sign_in

from kiosk.centre.commands import confirm_delivery, hand_out_at_centre
from kiosk.centre.db import connect
from kiosk.centre.district_staff import add_district_account, assign
from kiosk.centre.gates import GateRef, ensure_community
from kiosk.centre.intake import exchange
from kiosk.centre.queries import TOTALS, compound_counts
from kiosk.observation import set_observation
from kiosk.passwords import hash_password
from kiosk.queries import daily_counts
from kiosk.services import Rules, pick_up
from kiosk.staff_actions import hand_out
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal
from kiosk.sync.gate import _request

NOW = {**os.environ, "SHELF_NOW": "2026-11-29T16:00:00+08:00"}  # the clock fixture's moment
EAST = COMPOUNDS[0]
INJECTED = '=HYPERLINK("http://evil.example","east")'


@pytest.fixture
def day_of_work(tmp_path, community_template, centre_url, clock):
    """A day at every gate, different at each: check-ins, pickups by code, a hand-out by staff,
    door tasks; at the east compound a reinforcement cadre (property team) delivers one."""
    from conftest import CHEAP_HASHER

    with district(tmp_path, community_template, centre_url, clock) as d, \
            connect(centre_url) as pg:
        add_district_account(pg, clock.now(), username="cadre", name="Zhou",
                             role="district_staff", actor="tests",
                             password_hash=hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER))
        assign(pg, clock.now(), username="cadre", community=EAST, role="property",
               team="property", starts_at=clock.now() - timedelta(hours=1),
               ends_at=clock.now() + timedelta(days=1), actor="tests")
        ensure_community(pg, EAST, clock.now(), name=INJECTED)  # Excel must not run it
        for n, ((community, gate), g) in enumerate(d.gates.items()):
            rules = Rules.from_config(g.config)
            uow = SqliteUnitOfWork(g.conn)
            for i in range(n + 1):
                check_in(g.conn, g.config, clock, "2-902", f"BOOK-{n}-{i}")
            pick_up(pickup_code(g.conn, "2-902"), uow, rules, clock)
            parcel = check_in(g.conn, g.config, clock, "3-301", f"PARCEL-{n}").parcel
            if n % 2:
                hand_out(parcel, uow, rules, clock, actor="li@web", reason="neighbour",
                         id_checked=True)
            if gate == "north":
                set_observation("24-2304", True, uow, rules, clock, actor="tests")
                task = check_in(g.conn, g.config, clock, "24-2304", f"FOOD-{n}").door_task
                g.sync(clock)
                if community == EAST:
                    confirm_delivery(pg, EAST, "north", g.journal().state().epoch, task.id,
                                     "24-2304", d.configs[EAST].label_secret,
                                     actor="cadre@web", now=clock.now())
                    hand_out_at_centre(pg, EAST, "north", g.journal().state().epoch, parcel,
                                       reason="for the neighbour", id_checked=True,
                                       actor="cadre@web", now=clock.now())
            g.sync(clock)
            g.sync(clock)  # the delivery applied at the gate, then its events sent
        yield d


def test_district_totals_are_the_compounds_which_are_their_gates_own(day_of_work, clock,
                                                                    centre_url):
    d = day_of_work
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "district", "counts", "--date",
                           "2026-11-29", "--json", "--config", str(d.configs[EAST].path)],
                          capture_output=True, text=True, timeout=120, env=NOW)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert [c["community"] for c in counts["compounds"]] == sorted(COMPOUNDS)
    day = clock.now().astimezone(d.configs[EAST].community.timezone).date()
    for compound in counts["compounds"]:
        assert set(compound) >= {"date", "timezone", "from", "to", "totals", "gates"}
        for gate in compound["gates"]:
            g = d.gates[(compound["community"], gate["gate"])]
            own = daily_counts(g.conn, day, g.config.community.timezone)["totals"]
            assert {k: gate[k] for k in TOTALS} == own, (compound["community"], gate["gate"])
        assert compound["totals"] == {k: sum(g[k] for g in compound["gates"]) for k in TOTALS}
    assert counts["totals"] == {k: sum(c["totals"][k] for c in counts["compounds"])
                                for k in TOTALS}
    with connect(centre_url) as pg:  # each compound as its own centre's `shelf counts` says
        for compound in counts["compounds"]:
            own = compound_counts(pg, compound["community"], day,
                                  d.configs[EAST].community.timezone)
            assert {k: v for k, v in compound.items() if k != "name"} == own
    assert counts["totals"]["checked_in"] == sum(n + 3 if n % 2 == 0 else n + 2
                                                 for n in range(6))  # books, parcel, food
    assert counts["totals"]["delivered"] == 1 and counts["totals"]["handed_out"] > 3

    cadre = [p for p in counts["people"] if p["person"].startswith("cadre@")]
    assert len(cadre) == 1 and cadre[0]["community"] == EAST
    assert cadre[0]["team"] == "property" and cadre[0]["reinforcement"] is True
    assert cadre[0]["delivered"] == 1 and cadre[0]["handed_out"] == 1  # for property too
    assert counts["people"][0] == cadre[0]  # who delivered most comes first


def test_district_counts_page_and_csv(day_of_work):
    d = day_of_work
    compound_staff, _ = sign_in(d.sites[EAST], "li.east")
    assert compound_staff.get("/district/counts").status_code == 403
    client, answer = sign_in(d.sites[COMPOUNDS[1]], "cadre")  # any compound's site
    assert answer.status_code == 302
    page = client.get("/district/counts?date=2026-11-29&lang=zh")
    assert page.status_code == 200 and "街道当日统计" in page.text
    assert 'data-community="river-view"' in page.text

    sheet = client.get("/district/counts.csv?date=2026-11-29&lang=en")
    assert sheet.status_code == 200 and sheet.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(sheet.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Date", "Scope", "Compound", "Gate"]
    assert rows[1][1] == "district"
    compound_rows = [r for r in rows if r[1] == "compound"]
    assert len(compound_rows) == 3
    assert "'" + INJECTED in [r[2] for r in compound_rows]  # quoted, never a formula
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    checked = rows[0].index("Checked in")
    assert int(rows[1][checked]) == sum(int(r[checked]) for r in compound_rows) == sum(
        int(r[checked]) for r in rows if r[1] == "gate")


def test_a_closed_day_is_kept_and_counted_again_when_a_gate_syncs_it_late(
        tmp_path, community_template, centre_url, clock):
    """A day over is read from the counts kept per gate; a gate offline that day sends its
    records days later, and the district's day changes with them: still each gate's own."""
    from kiosk.centre.district import district_counts

    with district(tmp_path, community_template, centre_url, clock, COMPOUNDS[:2]) as d, \
            connect(centre_url) as pg:
        zone = d.configs[EAST].community.timezone
        day = clock.now().astimezone(zone).date()
        late = d.gates[(EAST, "south")]
        late.cut_off()  # its uplink is down all day
        for n, g in enumerate(d.gates.values()):
            for i in range(n + 1):
                check_in(g.conn, g.config, clock, "2-902", f"BOOK-{n}-{i}")
            assert g.sync(clock).centre == ("unreachable" if g is late else "reachable")
        clock.advance(2 * 86400)

        before = district_counts(pg, day, zone)
        kept = pg.execute("SELECT community_id, gate_id FROM day_counts WHERE day = %s",
                          (day,)).fetchall()
        assert len(kept) == len(d.gates)  # every gate's day kept, the silent one's too
        assert before == district_counts(pg, day, zone)  # read from what was kept
        late.reconnect(d.url)
        assert late.sync(clock).pending == 0  # two days late
        after = district_counts(pg, day, zone)
        assert district_counts(pg, day, zone) == after  # kept again
        assert district_counts(pg, day, zone, live=True) == after  # as counted afresh
        kept_after = pg.execute("SELECT gate_id, community_id FROM day_counts"
                                " WHERE day = %s", (day,)).fetchall()
        own = {key: daily_counts(g.conn, day, zone)["totals"] for key, g in d.gates.items()}

    late_books = list(d.gates).index((EAST, "south")) + 1
    assert before["totals"]["checked_in"] == sum(t["checked_in"] for t in own.values()) \
        - late_books
    assert after["totals"]["checked_in"] == sum(t["checked_in"] for t in own.values())
    for compound in after["compounds"]:
        for gate in compound["gates"]:
            assert {k: gate[k] for k in TOTALS} == own[(compound["community"], gate["gate"])]
    assert len(kept_after) == len(d.gates)  # counted again and kept again


def test_today_is_kept_per_gate_and_counted_again_only_where_a_batch_came(
        tmp_path, community_template, centre_url, clock):
    """Today's counts are kept per gate too: a gate that sends records drops its own (in the
    batch's transaction), and the next reading counts that gate again, not the others; a batch
    sent twice changes nothing. At every step the district equals each gate's own counts."""
    from kiosk.centre.district import district_counts

    def kept_at(pg) -> dict[tuple[str, str], object]:
        return {(r["community_id"], r["gate_id"]): r["counted_at"] for r in pg.execute(
            "SELECT community_id, gate_id, counted_at FROM day_counts WHERE day = %s",
            (day,))}

    def each_gate(counts) -> dict[tuple[str, str], dict[str, int]]:
        return {(c["community"], g["gate"]): {k: g[k] for k in TOTALS}
                for c in counts["compounds"] for g in c["gates"]}

    with district(tmp_path, community_template, centre_url, clock, COMPOUNDS[:2]) as d, \
            connect(centre_url) as pg:
        zone = d.configs[EAST].community.timezone
        day = clock.now().astimezone(zone).date()
        for n, g in enumerate(d.gates.values()):
            for i in range(n + 1):
                check_in(g.conn, g.config, clock, "2-902", f"BOOK-{n}-{i}")
            assert g.sync(clock).pending == 0
        first = district_counts(pg, day, zone)
        kept = kept_at(pg)
        assert set(kept) == set(d.gates)  # today's kept for every gate
        busy = d.gates[(EAST, "north")]
        check_in(busy.conn, busy.config, clock, "3-301", "ONE-MORE")
        pick_up(pickup_code(busy.conn, "2-902"), SqliteUnitOfWork(busy.conn),
                Rules.from_config(busy.config), clock)
        journal = Journal(busy.conn)
        sent = _request(busy.conn, busy.config, journal, journal.pending(10_000), clock)
        assert busy.sync(clock).pending == 0
        assert set(kept_at(pg)) == set(d.gates) - {(EAST, "north")}  # dropped by its batch
        second = district_counts(pg, day, zone)
        again = kept_at(pg)
        assert {k: v for k, v in again.items() if k != (EAST, "north")} == {
            k: v for k, v in kept.items() if k != (EAST, "north")}  # the others not recounted
        assert again[(EAST, "north")] > kept[(EAST, "north")]
        assert second == district_counts(pg, day, zone, live=True)
        for key, totals in each_gate(second).items():
            assert totals == daily_counts(d.gates[key].conn, day, zone)["totals"], key
        assert each_gate(second)[(EAST, "north")]["checked_in"] == \
            each_gate(first)[(EAST, "north")]["checked_in"] + 1
        assert second["totals"] == {k: sum(c["totals"][k] for c in second["compounds"])
                                    for k in TOTALS}
        assert compound_counts(pg, EAST, day, zone) == {
            k: v for k, v in next(c for c in second["compounds"]
                                  if c["community"] == EAST).items() if k != "name"}
        answer = exchange(pg, GateRef(EAST, "north"), sent, clock.now())  # sent again
        assert answer["applied"]["new"] == 0 and answer["rewound"] is None
        assert kept_at(pg) == again  # nothing dropped, nothing counted twice
        assert district_counts(pg, day, zone) == second
