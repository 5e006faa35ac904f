"""The shelf audit's pages in a real headless Chromium, on a phone (390 x 844) in Chinese and
English: the audit with its slot's list, a missing, a moved and an extra parcel noted, a press
at the shelf followed by the page, the exceptions list, the report and its print view. Each
state as tests/test_pages_browser.py checks every page: axe-core (no serious or critical
violation), no word key, no English sentence in Chinese, nothing scrolling sideways."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import add_member, assert_accessible, screenshot, served
from test_pages_browser import Tour, lockdown_week

from kiosk import audit
from kiosk.store import SqliteUnitOfWork
from web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def week(community, conn) -> dict[str, object]:
    return lockdown_week(community, conn)


@pytest.fixture
def site(community, week) -> Iterator[str]:
    add_member(community, "li", "committee", name="李伟")
    with served(create_app(community, clock=week["clock"])) as url:
        yield url


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_audit_on_a_phone_and_its_report(browser, site, week, conn, screenshots, lang):
    tour = Tour(browser, site, "phone", lang, screenshots)
    page = tour.page
    try:
        tour.sign_in("li", "li pass")
        page.goto(f"{site}/audit?lang={lang}")
        tour.check("audit-idle")
        page.click(".audit-idle button[type=submit]")
        page.wait_for_selector(".audit-now")
        slot = page.get_attribute(".audit-now", "data-slot")
        tour.check("audit-slot")
        page.click(".audit-missing >> nth=0")  # the first parcel listed is not there
        page.wait_for_selector(".audit-parcel.is-missing")
        elsewhere = conn.execute("SELECT ref FROM parcels WHERE status = 'waiting' AND "
                                 "slot_code != ? ORDER BY id LIMIT 1", (slot,)).fetchone()[0]
        page.fill("#audit-waybill", elsewhere)
        page.click(".audit-extra button[type=submit]")
        page.wait_for_selector('.audit-problems li[data-kind="moved"]')
        page.click(".audit-extra button[type=submit]")  # an extra parcel without a waybill
        page.wait_for_selector('.audit-problems li[data-kind="extra"]')
        tour.check("audit-problems")
        # A press at the shelf (the kiosk's process, here: a second connection) moves the
        # audit on; the page follows by itself.
        audit.all_here(SqliteUnitOfWork(conn), week["clock"], "kiosk", "button", slot)
        page.wait_for_selector(f'.audit-now:not([data-slot="{slot}"])')
        tour.check("audit-next")
        page.click(".audit-controls form >> nth=0")  # pause
        page.wait_for_selector('.audit-now[data-status="paused"]')
        tour.check("audit-paused")
        page.click(".audit-controls form >> nth=0")  # resume
        page.wait_for_selector('.audit-now[data-status="running"]')
        page.click(".audit-controls form >> nth=1")  # end
        page.wait_for_selector(".audit-idle")
        tour.check("audit-ended")
        tour.visit("exceptions-audit", "/exceptions")
        assert page.locator("#exc-audit .audit-problem").count() == 3
        page.goto(f"{site}/audit")
        page.click(".audit-recent a >> nth=0")
        page.wait_for_selector(".audit-facts")
        tour.check("audit-report")
        assert page.inner_text('[data-count="problems"]') == "3"
        page.emulate_media(media="print")
        assert not page.locator(".topbar").is_visible()  # the print view: the report alone
        assert not page.locator("[data-print]").is_visible()
        assert_accessible(page, f"audit-report-print ({lang})")
        screenshot(page, screenshots / f"audit-report-print-{lang}.png")
    finally:
        tour.context.close()
