"""The staff site in a real headless Chromium: sign in, watch the shelf update without reload.

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; no browser is downloaded.
Set SHELF_SCREENSHOT=/some/file.png to keep the screenshot of the live shelf.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADMIN_PASSWORD, check_in
from werkzeug.serving import make_server

from kiosk.services import Rules, pick_up
from kiosk.store import SqliteUnitOfWork
from web import create_app

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 6000  # three polls of 2 s

# Every element under #grid: tag, sorted attributes, and the text of leaves.
GRID_SHAPE_JS = """async () => {
  const shape = (root) => [...root.querySelectorAll('*')].map((e) => [
    e.tagName,
    [...e.attributes].map((a) => `${a.name}=${a.value}`).sort().join(' '),
    e.children.length ? '' : e.textContent.trim(),
  ]);
  const html = await (await fetch('/', {credentials: 'same-origin'})).text();
  const served = new DOMParser().parseFromString(html, 'text/html').getElementById('grid');
  return {served: shape(served), live: shape(document.getElementById('grid'))};
}"""


@pytest.fixture
def live_server(community, clock) -> Iterator[str]:
    """The real app on 127.0.0.1 at a free port, served from a thread."""
    server = make_server("127.0.0.1", 0, create_app(community, clock=clock), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def pickup_code(conn, household: str) -> str:
    return conn.execute("SELECT code FROM pickup_codes WHERE household_id = ? AND used_at IS NULL",
                        (household,)).fetchone()["code"]


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/")
    assert "/login?next=" in page.url
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{base}/")


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


def test_shelf_updates_live_without_reload(live_server, page, conn, community, clock,
                                           tmp_path):
    fill_shelf(conn, community, clock)
    sign_in(page, live_server)

    page.wait_for_selector('[data-slot="B-03"].full.lit-on [data-parcel].door')
    page.wait_for_selector('[data-slot="A-07"].lit-blink.empty')
    assert page.locator('[data-slot="A-12"] [data-parcel]').count() == 2
    assert page.locator('[data-slot="A-01"]').get_attribute("class") == "slot"  # light out
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    new = check_in(conn, community, clock, "31-2302", "SF7777001")
    item = page.wait_for_selector(f'[data-slot="{new.slot}"] [data-parcel="{new.parcel}"]',
                                  timeout=LIVE_TIMEOUT_MS)
    assert "door" in item.get_attribute("class")
    assert "SF7777001" in item.inner_text()
    assert "lit-on" in page.locator(f'[data-slot="{new.slot}"]').get_attribute("class")
    assert page.evaluate("window.sameDocument") is True
    assert "在架 8 件" in page.inner_text("#summary")

    shot = Path(os.environ.get("SHELF_SCREENSHOT") or tmp_path / "shelf.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_live_grid_matches_the_server_rendered_grid(live_server, page, conn, community, clock):
    fill_shelf(conn, community, clock)
    sign_in(page, live_server)
    page.click('a[hreflang="en"]')  # both renderers must agree in either language
    page.wait_for_selector('#grid[data-source="live"]', timeout=LIVE_TIMEOUT_MS)

    shapes = page.evaluate(GRID_SHAPE_JS)
    assert shapes["live"] == shapes["served"]
    assert any("Door delivery" in leaf for *_, leaf in shapes["live"])


def test_logout_button_signs_out(live_server, page):
    sign_in(page, live_server)
    page.click(".logout button")
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert "/login?next=" in page.url


def test_shelf_page_works_without_javascript(live_server, browser, conn, community, clock):
    result = check_in(conn, community, clock, "24-2304", "SF1234567")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server)
        card = page.locator(f'[data-slot="{result.slot}"]')
        assert "24-2304" in card.inner_text()
        assert page.locator("noscript").count() == 1
    finally:
        context.close()
