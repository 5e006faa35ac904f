"""The district's evening screen, `/district`: per compound what waits, fresh food waiting past
the escalation time, failed notices and its gates' health, compounds needing attention first;
its poll sends the table again only when something changed; the dashboard and the day's counts
in a real Chromium at 390 px and 1280 px, in both languages, with axe-core."""

from __future__ import annotations

import re

import pytest
from conftest import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    DESKTOP,
    PHONE,
    assert_accessible,
    check_in,
    served,
)
from district import COMPOUNDS, district, sign_in
from playwright.sync_api import expect

from kiosk.centre.db import connect
from kiosk.centre.district_staff import add_district_account
from kiosk.observation import set_observation
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import mark_fresh

EAST, WEST, RIVER = COMPOUNDS
VERSION_RE = re.compile(r'id="district-rows" data-version="([0-9a-f]+)"')


@pytest.fixture
def evening(tmp_path, community_template, centre_url, clock):
    """East has fresh food waiting past its hour; the river's south gate stopped syncing an
    hour ago; the west is quiet. A district staff account reads them all."""
    from conftest import CHEAP_HASHER

    from kiosk.passwords import hash_password

    with district(tmp_path, community_template, centre_url, clock) as d, \
            connect(centre_url) as pg:
        add_district_account(pg, clock.now(), username="ds", name="Wang", role="district_staff",
                             password_hash=hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER),
                             actor="tests")
        for (community, gate), g in d.gates.items():
            check_in(g.conn, g.config, clock, "2-902", f"{community}-{gate}".upper())
            if (community, gate) == (EAST, "north"):
                rules, uow = Rules.from_config(g.config), SqliteUnitOfWork(g.conn)
                set_observation("24-2304", True, uow, rules, clock, actor="tests")
                food = check_in(g.conn, g.config, clock, "24-2304", "EAST-FOOD").parcel
                mark_fresh(food, uow, rules, clock, actor="tests", source="web")
            g.sync(clock)
        clock.advance(61 * 60)  # past the sample's hour for fresh food (fresh_escalate_minutes)
        for key, g in d.gates.items():
            if key != (RIVER, "south"):
                g.sync(clock)
        yield d


def test_compounds_needing_attention_come_first_and_each_opens_its_own_page(evening):
    d = evening
    client, _ = sign_in(d.sites[WEST], "ds")  # any compound's site serves the district
    page = client.get("/district?lang=en")
    assert page.status_code == 200
    order = re.findall(r'<tr data-community="([a-z-]+)"', page.text)
    assert order == [EAST, RIVER, WEST]  # fresh food late, then a gate down, then quiet
    east_row = page.text[page.text.index(f'data-community="{EAST}"'):
                         page.text.index(f'data-community="{RIVER}"')]
    assert 'class="attention"' in east_row and 'data-count="fresh_late">1' in east_row
    river_row = page.text[page.text.index(f'data-community="{RIVER}"'):
                          page.text.index(f'data-community="{WEST}"')]
    assert re.search(r'class="down" data-gate="south"', river_row)
    assert not re.search(r'class="down" data-gate="north"', river_row)
    assert "needs attention" in east_row and "needs attention" not in page.text[
        page.text.index(f'data-community="{WEST}"'):]

    opened = client.get(f"/district/compound/{RIVER}?lang=en")
    assert opened.status_code == 200
    assert f"{RIVER}-NORTH".upper() in opened.text and "EAST-FOOD" not in opened.text
    assert "街道各小区" in client.get("/district?lang=zh").text


def test_the_poll_sends_the_table_only_when_it_changed(evening, clock):
    d = evening
    client, _ = sign_in(d.sites[EAST], "ds")
    version = VERSION_RE.search(client.get("/district").text)[1]
    same = client.get(f"/district/rows?since={version}").json
    assert same["version"] == version and "html" not in same
    clock.advance(30)  # time passes; nothing the table shows changed
    assert "html" not in client.get(f"/district/rows?since={version}").json

    west = d.gates[(WEST, "north")]
    check_in(west.conn, west.config, clock, "3-301", "WEST-LATE")
    west.sync(clock)
    changed = client.get(f"/district/rows?since={version}").json
    assert changed["version"] != version
    row = changed["html"][changed["html"].index(f'data-community="{WEST}"'):]
    assert 'data-count="waiting">3' in row


def _context(browser, size):
    phone = size is PHONE
    context = browser.new_context(viewport=size, device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone, locale="zh-CN")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    return context


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_dashboard_and_counts_in_chromium(browser, evening, clock, size, name):
    d = evening
    app = d.sites[RIVER]
    app.config["DISTRICT_POLL_MS"] = 200  # the test watches a poll or two, not fifteen seconds
    with served(app) as site:
        context = _context(browser, size)
        try:
            page = context.new_page()
            page.goto(f"{site}/login")
            page.fill("#username", "ds")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{site}/")
            page.goto(f"{site}/district")
            assert page.locator("h1").inner_text() == "街道各小区"
            rows = page.locator("#district-rows tbody tr")
            assert rows.count() == 3
            assert rows.first.get_attribute("data-community") == EAST
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= size["width"], f"{name}: the page scrolls sideways ({width} px)"
            assert_accessible(page, f"/district ({name}, zh)")

            # Something changes at a gate: the next poll swaps the table in by itself.
            west = d.gates[(WEST, "south")]
            check_in(west.conn, west.config, clock, "3-301", f"WEST-{name}".upper())
            west.sync(clock)
            expect(page.locator(f'tr[data-community="{WEST}"] [data-count="waiting"]')
                   ).to_have_text("3", timeout=BROWSER_TIMEOUT_MS)

            page.goto(f"{site}/district?lang=en")
            assert_accessible(page, f"/district ({name}, en)")
            page.goto(f"{site}/district/counts?lang=zh")
            assert page.locator("[data-scope=district] [data-count=checked_in] dd").inner_text() \
                == "8"  # one at each of six gates, east's food, west's new one
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= size["width"], f"{name}: the counts scroll sideways ({width} px)"
            assert_accessible(page, f"/district/counts ({name}, zh)")
            page.click(f"a[href='/district/compound/{EAST}']")
            page.wait_for_url(f"{site}/district/compound/{EAST}")
            assert "EAST-FOOD" in page.content()
            assert_accessible(page, f"/district/compound ({name}, zh)")
        finally:
            context.close()


def test_search_finds_a_room_a_waybill_and_a_phone_tail_in_every_compound(
        evening, centre_url, community_template, clock):
    from kiosk.centre.lists import import_households_at_centre

    d = evening
    with connect(centre_url) as pg:
        for community in (EAST, RIVER):  # the west's household list is not at the centre
            config = d.configs[community]
            import_households_at_centre(
                pg, community, config.community.buildings, "households.csv",
                (community_template / "households.csv").read_bytes(), clock.now(),
                actor="chen", apply=True, rules=Rules.from_config(config))
    client, _ = sign_in(d.sites[WEST], "ds")
    room = client.get("/district/search?q=24栋2304室&lang=en").text
    assert "EAST-FOOD" in room and f"{WEST}-NORTH".upper() not in room
    waybill = client.get(f"/district/search?q={RIVER}-sou&lang=en").text
    assert f"{RIVER}-SOUTH".upper() in waybill and "EAST-FOOD" not in waybill
    phone = client.get("/district/search?q=3544&lang=en").text  # 2-902's phone ends so
    assert phone.count('<li data-community=') == 2 and "139****3544" in phone
    assert "13953753544" not in phone
    assert client.get("/district/search?q=%25&lang=en").status_code == 200  # a LIKE wildcard


def test_the_dashboard_sorts_as_asked_and_names_who_is_lent_where(evening, centre_url, clock):
    from datetime import timedelta

    from kiosk.centre.district_staff import assign
    from kiosk.centre.gates import ensure_community

    d = evening
    with connect(centre_url) as pg:
        ensure_community(pg, WEST, clock.now(), name="甲苑")
        assign(pg, clock.now(), username="ds", community=RIVER, role="gate", team=None,
               starts_at=clock.now() - timedelta(hours=1),
               ends_at=clock.now() + timedelta(hours=2), actor="tests")
    client, _ = sign_in(d.sites[EAST], "ds")

    def order(query: str) -> list[str]:
        return re.findall(r'<tr data-community="([a-z-]+)"',
                          client.get(f"/district{query}").text)

    assert order("") == [EAST, RIVER, WEST]
    assert order("?sort=waiting") == [EAST, RIVER, WEST]  # 3, then 2 and 2: attention first
    assert order("?sort=name") == [WEST, EAST, RIVER]  # 甲苑, then 示例花园 twice, by id
    assert order("?sort=nonsense") == order("")
    page = client.get("/district?sort=name&lang=en").text
    assert '"rows": "/district/rows?sort=name"' in page  # the poll keeps the order
    lent = page[page.index('id="district-lent"'):]
    assert "ds" in lent and RIVER in lent and "Gate" in lent
    clock.advance(2 * 3600)
    assert 'id="district-lent"' not in client.get("/district").text  # ended by itself
