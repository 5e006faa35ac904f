"""The staff's day on a phone (390 x 844) in a real headless Chromium: the shelf narrowed by a
filter and staying live with it, the exceptions list with a room confirmed there, a parcel's
timeline.

Each state passes axe-core (no serious or critical violation). SHELF_SCREENSHOTS=DIR keeps the
screenshots (follow-*.png); the README's come from tests/test_pages_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import assert_accessible, phone_page, screenshot, served
from test_web_tasks import observe, scan, shanghai, with_staff
from test_web_tasks_browser import MIN_TOUCH_PX, no_sideways_scroll

from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.services import Rules, act_on_carrier, act_on_payload
from kiosk.store import SqliteUnitOfWork
from web import create_app

pytestmark = pytest.mark.browser

DAY = 86400
STAFF = {"li": "committee"}


@pytest.fixture
def clock():
    return shanghai("2026-11-25 09:30")


@pytest.fixture
def site(community, clock) -> Iterator[str]:
    app = create_app(with_staff(community, STAFF), clock=clock)
    with served(app) as url:
        yield url


@pytest.fixture
def phone(browser):
    with phone_page(browser) as page:
        yield page


def shelve(community, conn, clock, household: str, ref: str):
    label = make_label(community.label_secret, HouseholdId.parse(household), ref)
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(community),
                            clock)
    assert result.action == "checkin", result
    return result


def a_week_at_the_gate(community, conn, clock) -> dict[str, int]:
    """Eight days of a lockdown gate: an old parcel, a door delivery, a typed room, refusals."""
    rules, uow = Rules.from_config(community), SqliteUnitOfWork(conn)
    old = shelve(community, conn, clock, "24-2304", "SF1029384756")
    clock.advance(4 * DAY)
    observe(community, conn, clock, "2-902")
    scan(community, conn, clock, "2-902", "JD0088123")
    observe(community, conn, clock, "13-1102")
    scan(community, conn, clock, "13-1102", "YT7788123")  # no e-mail either: nobody is told
    clock.advance(3 * DAY)
    shelve(community, conn, clock, "24-2403", "ZTO55550001")
    typed = act_on_carrier("SF1234567890", uow, rules, clock, room="24-2403", keep_room=True)
    forged = make_label(b"another-community-key-0123456789", HouseholdId(24, "2304"), "SF77")
    assert act_on_payload(forged.encode(), uow, rules, clock).error == "forged"
    assert act_on_payload(b"YT9876543210", uow, rules, clock, kind="CODE128").action == \
        "needs_room"
    clock.advance(DAY + 3600)  # the 24-2304 parcel has waited 8 days: due back
    return {"old": old.parcel, "typed": typed.parcel}


def test_the_shelf_filtered_on_a_phone_stays_live_and_the_exceptions_are_one_tap_away(
        site, phone, community, conn, clock, screenshots):
    made = a_week_at_the_gate(community, conn, clock)
    page, shots = phone, screenshots
    page.goto(f"{site}/")
    page.fill("#username", "li")
    page.fill("#password", "li pass")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{site}/")
    every = page.locator("article.slot").count()
    assert every == len(community.layout.slots) + 1

    page.click('.filters a[data-filter="occupied"]')
    page.wait_for_url(f"{site}/?show=occupied")
    shown = page.locator("article.slot")
    assert 0 < shown.count() < every and page.locator("article.slot.empty").count() == 0
    for chip in page.locator(".filters a").all():
        assert chip.bounding_box()["height"] >= MIN_TOUCH_PX
    assert page.locator("article.slot.age-return").count() == 1  # 24-2304's, 8 days
    no_sideways_scroll(page)

    # A courier checks a parcel in for building 30: the poll brings its slot, still filtered.
    arrived = shelve(community, conn, clock, "30-1301", "SF3001301")
    page.wait_for_selector(f'article.slot[data-slot="{arrived.slot}"]')
    assert page.locator("article.slot.empty").count() == 0
    assert page.get_attribute('.filters a[data-filter="occupied"]', "aria-current") == "true"
    page.click('.filters a[data-filter="door"]')
    page.wait_for_url(f"{site}/?show=door")
    assert page.locator("article.slot").count() == 2  # 2-902's and 13-1102's door parcels
    page.click('.filters a[data-filter="occupied"]')
    page.wait_for_url(f"{site}/?show=occupied")
    assert_accessible(page, "the shelf, filtered")
    screenshot(page, shots / "follow-shelf-filter.png", full_page=False)

    page.click(".menu > summary")  # on a phone the links are in the menu
    page.click("text=待处理")
    page.wait_for_url(f"{site}/exceptions")
    no_sideways_scroll(page)
    errors = page.locator(".refusal-item").evaluate_all(
        "items => items.map(i => i.dataset.error)")
    assert sorted(errors) == ["forged", "needs_room"]
    assert page.locator("#exc-unreachable .found").count() == 1
    assert page.locator("#exc-unconfirmed .found").count() == 1
    assert_accessible(page, "the exceptions")
    screenshot(page, shots / "follow-exceptions.png")

    box = page.locator(f"#confirm-{made['typed']}")
    box.fill("面单写的是 24-2403，手机尾号 2403")
    assert page.locator("#exc-unconfirmed .inline-action button").bounding_box()["height"] >= \
        MIN_TOUCH_PX
    page.click("#exc-unconfirmed .inline-action button")
    page.wait_for_selector("text=房号已确认。")
    assert page.locator("#exc-unconfirmed .found").count() == 0

    page.goto(f"{site}/parcels/{made['old']}")
    assert "已超过退回期限" in page.inner_text(".waited")

    # The typed parcel, on a phone: moved to another slot with a reason, then its whole record.
    page.goto(f"{site}/parcels/{made['typed']}")
    page.click("summary >> text=移到其他货位")
    page.select_option("#move-slot", "B-13")
    page.fill("#reason-move", "B-12 漏雨")
    page.click("form[action$='/move'] button")
    page.wait_for_selector("text=已移到 B-13")
    no_sideways_scroll(page)
    words = page.locator(".event-words").all_inner_texts()
    assert words[0].startswith("快递员在键盘扫描入架，放入 B-12（房号由门岗手输"), words
    assert "Li核对了面单，确认房号。说明：面单写的是 24-2403，手机尾号 2403" in words
    assert "Li把包裹从 B-12 移到 B-13。原因：B-12 漏雨" in words
    assert_accessible(page, "a parcel's record after a move")
    screenshot(page, shots / "follow-timeline.png")
