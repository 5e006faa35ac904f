"""The compound's site at its centre in a real headless Chromium, on a phone (390 x 844) and a
desk (1280 x 800): every gate's grid grouped by gate staying live as a gate syncs, the team's
one list and a door visit waiting for two gates, search, the gates' health, the counts. Each
state passes axe-core (no serious or critical violation); nothing scrolls sideways on a phone.

SHELF_SCREENSHOTS=DIR keeps the screenshots (centre-*.png); the README shows two of them from
docs/ (centre-shelf-desktop.png, centre-visit-phone.png).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    DESKTOP,
    assert_accessible,
    check_in,
    phone_page,
    screenshot,
    served,
)
from test_centre_pages import site  # noqa: F401  (the fixture: two gates and their centre)
from test_web_tasks_browser import no_sideways_scroll
from test_web_users_browser import sign_in

from kiosk.centre.commands import hand_out_at_centre
from kiosk.centre.db import connect
from kiosk.store import SqliteUnitOfWork

pytestmark = pytest.mark.browser

DAY = 86400


@pytest.fixture
def desk(browser) -> Iterator:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser) -> Iterator:
    with phone_page(browser) as page:
        yield page


def a_day_at_two_gates(site, clock, centre_url) -> None:  # noqa: F811
    """Parcels at both gates (one waiting 4 days), a household with parcels at each, a
    hand-out decided at the centre that the north gate has not applied yet, a camera lost."""
    north, south = site.north, site.south
    check_in(south.conn, south.config, clock, "24-2304", "SF1029384756")
    clock.advance(4 * DAY)
    for household, ref in (("2-902", "JD0088123"), ("24-2304", "YT7788123"),
                           ("29-1004", "MT20291004"), ("13-1102", "ZTO55550001")):
        check_in(north.conn, north.config, clock, household, ref)
    for household, ref in (("29-1004", "SF55501004"), ("2-2603", "EMS1122334455"),
                           ("24-2403", "JD0099887766"), ("31-2302", "YT5566778")):
        check_in(south.conn, south.config, clock, household, ref)
    for gate in (north, south):  # each kiosk beats
        gate.conn.execute("INSERT INTO kiosk_heartbeat (id, beat_at) VALUES (1, ?) ON CONFLICT"
                          " (id) DO UPDATE SET beat_at = excluded.beat_at",
                          (clock.now().isoformat(),))
    SqliteUnitOfWork(south.conn).events.add("camera_lost", "kiosk", clock.now(),
                                            reason="unplugged")
    site.sync(clock)
    parcel = north.conn.execute("SELECT id, origin FROM parcels WHERE ref = 'JD0088123'"
                                ).fetchone()
    with connect(centre_url) as pg:
        hand_out_at_centre(pg, "sample-garden", "north", parcel["origin"], parcel["id"],
                           reason="her son, ID seen", id_checked=True, actor="zhang",
                           now=clock.now())


def test_the_compound_on_a_desk_and_a_phone(site, clock, centre_url, desk, phone,  # noqa: F811
                                            screenshots):
    a_day_at_two_gates(site, clock, centre_url)
    shots = screenshots
    with served(site.app) as base:
        sign_in(desk, base, "admin", ADMIN_PASSWORD)
        grid = desk.locator("#grid")
        for gate, name in (("north", "北门"), ("south", "南门")):
            part = grid.locator(f'section.gate-shelves[data-gate="{gate}"]')
            assert part.locator("h2").inner_text() == name
            assert part.locator("article.slot").count() > 10  # the gate's whole grid
        assert "等待北门同步" in grid.locator(".waiting-commands").inner_text()
        health = grid.locator('[data-gate="south"] .gate-health').inner_text()
        assert "摄像头断开" in health and "无响应" not in health
        desk.click('.filters a[data-filter="occupied"]')  # every gate's parcels in one view
        desk.wait_for_url(f"{base}/?show=occupied")
        assert_accessible(desk, "the compound's shelf on a desk")
        screenshot(desk, shots / "centre-shelf-desktop.png")

        south = site.south
        check_in(south.conn, south.config, clock, "2-902", "LIVE-0001")
        south.sync(clock)  # the open page learns of it at its next poll, and only then
        grid.locator("text=LIVE-0001").wait_for()

        desk.goto(f"{base}/gates")
        rows = desk.locator("table.gate-health-table tbody tr")
        assert rows.count() == 2
        screenshot(desk, shots / "centre-gates-desktop.png")
        desk.goto(f"{base}/counts")
        assert desk.locator('table[data-scope="gate"] tbody tr').count() == 2
        screenshot(desk, shots / "centre-counts-desktop.png")
        desk.goto(f"{base}/search?q=24栋2304室")
        found = desk.locator("#search-results li")
        assert found.count() == 3  # 24-2304's at both gates, then 24-2403's (easily confused)
        assert [chip.inner_text() for chip in found.locator(".gate-chip").all()] == [
            "南门", "北门", "南门"]
        screenshot(desk, shots / "centre-search-desktop.png")

        desk.click('#search-results a.found-link >> nth=1')  # the north gate's parcel
        assert "北门" in desk.locator(".page-head .gate-chip").inner_text()
        assert_accessible(desk, "a parcel's timeline at the centre")
        screenshot(desk, shots / "centre-timeline-desktop.png")

        desk.context.clear_cookies()  # the committee's member at a desk now
        sign_in(desk, base, "li", "li pass")
        for lang, gates in (("zh", ["北门 B-03", "南门 B-03"]),
                            ("en", ["North gate B-03", "South gate B-03"])):
            desk.goto(f"{base}/tasks?lang={lang}")
            visit = desk.locator('li.task[data-task="29-1004"]')
            assert visit.locator(".slot-chip").all_inner_texts() == gates
            assert_accessible(desk, f"the team's door visits on a desk ({lang})")
            screenshot(desk, shots / f"centre-tasks-desktop-{lang}.png")

        sign_in(phone, base, "li", "li pass")
        no_sideways_scroll(phone)
        assert_accessible(phone, "the compound's shelf on a phone")
        screenshot(phone, shots / "centre-shelf-phone.png", full_page=False)
        phone.goto(f"{base}/tasks")
        visit = phone.locator('li.task[data-task="29-1004"]')
        assert visit.locator(".slot-chip").count() == 2  # one trip, a parcel at each gate
        no_sideways_scroll(phone)
        assert_accessible(phone, "the team's door visits on a phone")
        screenshot(phone, shots / "centre-tasks-phone.png")
        visit.locator("a").click()
        phone.fill('input[name="building"]', "29")
        phone.fill('input[name="room"]', "1004")
        phone.click(".door-typed button[type=submit]")
        waiting = phone.locator(".door-waiting")
        waiting.first.wait_for()
        assert waiting.count() == 2
        assert "等待北门同步" in waiting.first.inner_text()
        no_sideways_scroll(phone)
        assert_accessible(phone, "a door visit waiting for two gates on a phone")
        screenshot(phone, shots / "centre-visit-phone.png")
        for path in ("gates", "counts", "exceptions", "overdue"):
            phone.goto(f"{base}/{path}")
            no_sideways_scroll(phone)
            assert_accessible(phone, f"/{path} at the centre on a phone")
            screenshot(phone, shots / f"centre-{path}-phone.png")
