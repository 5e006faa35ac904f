"""The staff site in a real headless Chromium: sign in, watch the shelf update without reload.

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; no browser is downloaded.
Each state passes axe-core. SHELF_SCREENSHOTS=DIR keeps the screenshots (shelf-live.png,
shelf-crowded-zh.png, ...); the README's come from tests/test_pages_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    assert_accessible,
    check_in,
    fill_floor,
    pickup_code,
    screenshot,
    served,
)

from kiosk.services import Rules, pick_up
from kiosk.store import SqliteUnitOfWork
from web import create_app
from web.shelf import PARCELS_PER_CARD, POLL_MS

pytestmark = pytest.mark.browser

# One poll (every POLL_MS) plus a second for the request and the swap: "live within 2 s".
# Timed, so asserted only by `make proofs`; `make test` waits as long as a busy machine needs.
LIVE_TIMEOUT_MS = POLL_MS + 1000

# The grid three ways, serialised by the browser: live in this page, in a fresh copy of the
# page as the server sends it, and as the poll sends it.
GRID_SOURCES_JS = """async () => {
  const page = await (await fetch('/', {credentials: 'same-origin'})).text();
  const served = new DOMParser().parseFromString(page, 'text/html').getElementById('grid');
  const poll = await (await fetch('/shelf/grid', {credentials: 'same-origin',
                                                  headers: {Accept: 'application/json'}})).json();
  const polled = document.createElement('template');
  polled.innerHTML = poll.html;
  const live = document.getElementById('grid');
  return {live: live.innerHTML, served: served.innerHTML, polled: polled.innerHTML,
          versions: [live.dataset.version, served.dataset.version, poll.version]};
}"""


@pytest.fixture
def live_server(community, clock) -> Iterator[str]:
    """The real app on 127.0.0.1 at a free port, served from a thread."""
    with served(create_app(community, clock=clock)) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield page
    context.close()


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/")
    assert "/login?next=" in page.url
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{base}/")


def switch_language(page, base: str, lang: str) -> None:
    page.click(f'a[hreflang="{lang}"]')
    page.wait_for_url(f"{base}/?lang={lang}")


def fill_shelf(conn, config, clock) -> None:
    """A morning at the gate: some lights already out, a full slot, a pickup blinking."""
    check_in(conn, config, clock, "2-902", "SF1402220001")
    check_in(conn, config, clock, "13-1102", "YT7788123")
    check_in(conn, config, clock, "24-2304", "JD0099123")
    check_in(conn, config, clock, "24-2304", "MT55001")  # fresh groceries
    check_in(conn, config, clock, "24-2403", "ZTO3344")
    clock.advance(config.kiosk.light_s + 10)  # those lights have gone out
    for ref in ("SF9001", "SF9002", "EMS1203"):  # under observation: door delivery
        check_in(conn, config, clock, "29-1004", ref)
    clock.advance(5)
    pick_up(pickup_code(conn, "13-1102"), SqliteUnitOfWork(conn), Rules.from_config(config),
            clock)  # A-07 blinks as it empties


def test_shelf_updates_live_after_a_check_in_and_a_pickup(live_server, page, conn, community,
                                                           clock, screenshots):
    fill_shelf(conn, community, clock)
    sign_in(page, live_server)

    page.wait_for_selector('[data-slot="B-03"].full.lit-on [data-parcel].door')
    page.wait_for_selector('[data-slot="A-07"].lit-blink.empty')
    assert page.locator('[data-slot="A-12"] [data-parcel]').count() == 2
    assert page.locator('[data-slot="A-01"]').get_attribute("class") == "slot"  # light out
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    new = check_in(conn, community, clock, "31-2302", "SF7777001")
    item = page.wait_for_selector(f'[data-slot="{new.slot}"] [data-parcel="{new.parcel}"]')
    assert "door" in item.get_attribute("class")
    assert "SF7777001" in item.inner_text()
    assert "lit-on" in page.locator(f'[data-slot="{new.slot}"]').get_attribute("class")
    assert "在架 8 件" in page.inner_text("#summary")

    clock.advance(5)
    pick_up(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn), Rules.from_config(community),
            clock)
    page.wait_for_selector('[data-slot="A-12"].lit-blink.empty')
    assert page.locator('[data-slot="A-12"] [data-parcel]').count() == 0
    assert "在架 6 件" in page.inner_text("#summary")
    assert page.inner_text("#status") == "更新于 16:00:50"  # the server's time, zh
    assert page.evaluate("window.sameDocument") is True

    assert_accessible(page, "the live shelf")
    assert screenshot(page, screenshots / "shelf-live.png").stat().st_size > 10_000


@pytest.mark.proof
def test_a_check_in_is_on_the_shelf_page_within_one_poll(live_server, page, conn, community,
                                                         clock):
    """Timed on the real clock (`make proofs`): live within one poll and a second."""
    sign_in(page, live_server)
    new = check_in(conn, community, clock, "24-2304", "SF7777002")
    page.wait_for_selector(f'[data-slot="{new.slot}"] [data-parcel="{new.parcel}"]',
                           timeout=LIVE_TIMEOUT_MS)


@pytest.mark.parametrize(("lang", "door"), [("zh", "送货上门"), ("en", "Door delivery")])
def test_the_live_grid_is_the_servers_markup(live_server, page, conn, community, clock,
                                             lang, door):
    fill_shelf(conn, community, clock)
    sign_in(page, live_server)
    switch_language(page, live_server, lang)
    new = check_in(conn, community, clock, "24-2403", "SF8888002")  # swapped in by a poll
    page.wait_for_selector(f'[data-parcel="{new.parcel}"]')

    grids = page.evaluate(GRID_SOURCES_JS)
    assert grids["live"] == grids["served"] == grids["polled"]
    assert len(set(grids["versions"])) == 1
    assert door in grids["live"]


def test_an_unchanged_poll_leaves_the_grid_alone(live_server, page, conn, community, clock):
    """Blinking stays smooth: the grid is only replaced when the shelf changed."""
    fill_shelf(conn, community, clock)
    sign_in(page, live_server)
    page.evaluate("document.querySelector('[data-slot=\"A-07\"]').dataset.kept = 'yes'")
    for _ in range(2):
        with page.expect_response(lambda r: "/shelf/grid" in r.url):
            pass
    assert page.locator('[data-slot="A-07"][data-kept="yes"].lit-blink').count() == 1

    check_in(conn, community, clock, "24-2403", "SF8888003")
    page.wait_for_selector('[data-slot="A-07"]:not([data-kept])')


def test_the_page_says_when_it_lost_the_server_and_recovers(live_server, page):
    sign_in(page, live_server)
    page.route("**/shelf/grid*", lambda route: route.abort())
    page.wait_for_selector("#status.offline")
    assert page.inner_text("#status") == "连接中断，正在重试…"

    page.unroute("**/shelf/grid*")
    page.wait_for_selector("#status:not(.offline)")
    assert page.inner_text("#status").startswith("更新于 ")


def test_a_page_signed_out_elsewhere_goes_to_sign_in(live_server, page):
    sign_in(page, live_server)
    page.context.clear_cookies()  # the session is gone, as after signing out in another tab
    page.wait_for_url(f"{live_server}/login?next=/")


@pytest.mark.parametrize(("lang", "more"), [("zh", "还有 14 件，查看全部"),
                                            ("en", "+14 more, see all")])
def test_a_crowded_slot_links_to_its_full_list(live_server, page, conn, community, clock,
                                               screenshots, lang, more):
    fill_floor(conn, community, clock, PARCELS_PER_CARD + 14)
    sign_in(page, live_server)
    switch_language(page, live_server, lang)
    floor = page.locator('[data-slot="FLOOR"]')
    assert floor.locator("[data-parcel]").count() == PARCELS_PER_CARD
    assert floor.locator("a.more").inner_text() == more
    assert_accessible(page, f"a crowded slot ({lang})")
    screenshot(page, screenshots / f"shelf-crowded-{lang}.png")

    floor.locator("a.more").click()
    page.wait_for_url(f"{live_server}/shelf/slot/FLOOR")
    assert page.locator("[data-parcel]").count() == PARCELS_PER_CARD + 14
    assert_accessible(page, f"a slot's full list ({lang})")
    screenshot(page, screenshots / f"shelf-slot-{lang}.png")
    page.click(".back a")
    page.wait_for_url(f"{live_server}/")


def test_logout_button_signs_out(live_server, page):
    sign_in(page, live_server)
    page.click(".logout button")
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert "/login?next=" in page.url


def test_shelf_page_works_without_javascript(live_server, browser, conn, community, clock):
    result = check_in(conn, community, clock, "24-2304", "SF1234567")
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, live_server)
        card = page.locator(f'[data-slot="{result.slot}"]')
        assert "24-2304" in card.inner_text()
        assert page.locator("noscript").count() == 1
    finally:
        context.close()
