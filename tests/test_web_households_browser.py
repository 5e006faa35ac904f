"""The household list on a phone (390 x 844) in a real headless Chromium: find a flat by its
phone's last digits, open it, correct a phone.

Each state passes axe-core. SHELF_SCREENSHOTS=DIR keeps the screenshot (households-find.png);
the README's come from tests/test_pages_browser.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from conftest import PHONE, assert_accessible, check_in, phone_page, screenshot, served

from kiosk.config import User
from kiosk.observation import set_observation
from kiosk.passwords import hash_password
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork
from web import create_app

pytestmark = pytest.mark.browser

MIN_TOUCH_PX = 44


@pytest.fixture
def site(community, clock) -> Iterator[str]:
    user = User("li", hash_password("li pass", iterations=1000), "committee", "李敏")
    web = dataclasses.replace(community.web, users=(*community.web.users, user))
    app = create_app(dataclasses.replace(community, web=web), clock=clock)
    with served(app) as url:
        yield url


@pytest.fixture
def phone(browser):
    with phone_page(browser) as page:
        yield page


def test_find_a_household_and_correct_its_phone_on_a_phone(site, phone, community, conn, clock,
                                                            screenshots):
    check_in(conn, community, clock, "24-2304")
    check_in(conn, community, clock, "24-2304")
    set_observation("24-2003", True, SqliteUnitOfWork(conn), Rules.from_config(community), clock,
                    actor="li@web")
    page = phone
    page.goto(f"{site}/login?next=/households")
    page.fill("#username", "li")
    page.fill("#password", "li pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/households")

    page.select_option("#hh-b", "24")
    page.click(".hh-pick button")
    page.wait_for_url("**/households?b=24")
    rows = page.locator(".hh-list li")
    assert rows.count() == 5
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    chen = page.locator('.hh-list li[data-household="24-2304"]')
    assert "138****2304" in chen.inner_text() and "待取 2 件" in chen.inner_text()
    assert "居家观察中" in page.locator('.hh-list li[data-household="24-2003"]').inner_text()
    assert chen.locator(".hh-id").bounding_box()["height"] >= 20
    assert_accessible(page, "the households of building 24")
    screenshot(page, screenshots / "households-find.png", full_page=False)

    page.fill("#hh-q", "2403")
    page.press("#hh-q", "Enter")
    page.wait_for_url("**q=2403")
    page.click('.hh-list li[data-household="24-2403"] .hh-id')
    page.wait_for_url("**/households/24-2403")
    page.fill("#hh-phone", "13800002403;139000")  # a number cut short: refused
    page.click(".hh-edit button")
    assert "电话号码 ****** 不对：每个号码 7 到 15 位数字" in page.inner_text(".error")
    assert page.input_value("#hh-phone") == "13800002403;139000"  # kept, to correct
    page.fill("#hh-phone", "13800002403;13900002403")
    save = page.locator(".hh-edit button")
    assert save.bounding_box()["height"] >= MIN_TOUCH_PX
    save.click()
    page.wait_for_selector(".flash-ok")
    assert "24-2403 已保存：修改了电话。" in page.inner_text(".flash-ok")
    assert "13900002403" in page.inner_text(".hh-details")
