"""Door delivery on a phone (390 x 844) in a real headless Chromium: the team's list, then a
photo of the wrong door's sticker, shrunk in the page, read by the kiosk's decoder, refused
with both rooms in large type; then the right door.

Each state passes axe-core. SHELF_SCREENSHOTS=DIR keeps the screenshots (door-*.png); the
README's come from tests/test_pages_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import PHONE, assert_accessible, phone_page, screenshot, served
from test_web_tasks import STAFF, door_photo, observe, scan, shanghai, with_staff
from test_web_tasks import day as day  # noqa: F401  (fixture)

from hardware.decoder import DecoderChain
from web import create_app

pytestmark = pytest.mark.browser

MIN_TOUCH_PX = 44  # the smallest comfortable touch target


@pytest.fixture
def phone_site(community, day) -> Iterator[tuple[str, list[int]]]:  # noqa: F811
    """The site on 127.0.0.1, and the size of every body posted to it (what a phone sends)."""
    app = create_app(with_staff(community, STAFF), clock=day["clock"], decoder=DecoderChain())
    posted: list[int] = []
    inner = app.wsgi_app

    def measured(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST":
            posted.append(int(environ.get("CONTENT_LENGTH") or 0))
        return inner(environ, start_response)

    app.wsgi_app = measured
    with served(app) as url:
        yield url, posted


@pytest.fixture
def phone(browser):
    # Chromium on Linux has no BarcodeDetector; delete it anyway, so the page takes a photo
    with phone_page(browser, init_script="delete window.BarcodeDetector") as page:
        yield page


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def test_the_list_and_the_wrong_door_on_a_phone(phone_site, phone, day, community, conn,  # noqa: F811
                                                tmp_path, screenshots):
    site, posted = phone_site
    clock = day["clock"]
    observe(community, conn, clock, "2-902")
    clock.current = shanghai("2026-12-03 10:40").current
    scan(community, conn, clock, "2-902", "MT20902", fresh=True)  # groceries: first
    observe(community, conn, clock, "13-1102")
    scan(community, conn, clock, "13-1102", "YT7788123")
    clock.current = shanghai("2026-12-03 11:52").current  # the fresh task escalated at 11:40
    page, shots = phone, screenshots
    page.goto(f"{site}/tasks")
    page.fill("#username", "zhang")
    page.fill("#password", "zhang pass")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{site}/tasks")

    assert page.locator(".task-household").all_inner_texts() == ["2-902", "24-2304", "13-1102"]
    assert "待送 3 户 · 4 件" in page.inner_text("#tasks-summary")
    assert page.inner_text(".task.fresh .fresh-badge") == "生鲜"
    assert page.inner_text(".task.fresh .escalated-badge") == "已催 1 次"
    no_sideways_scroll(page)
    for target in (".collect-button", ".task-link >> nth=0", ".task-link >> nth=2"):
        assert page.locator(target).bounding_box()["height"] >= MIN_TOUCH_PX, target
    assert page.locator(".collect-button").bounding_box()["width"] >= 300
    assert_accessible(page, "the team's tasks")
    screenshot(page, shots / "door-tasks.png")

    page.click(f'[data-task="{day["property"]}"] .task-link')
    page.wait_for_url(f"{site}/tasks/{day['property']}")
    no_sideways_scroll(page)
    assert page.locator(".camera-button").bounding_box()["height"] >= MIN_TOUCH_PX
    assert page.locator("#door-photo").is_hidden() or \
        page.locator("#door-photo").bounding_box()["width"] <= 1  # the label opens the camera

    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(door_photo(community, "24-2403"))  # a phone's 3-5 MB JPEG
    posted.clear()
    page.set_input_files("#door-photo", str(photo))  # sent at once, shrunk first
    page.wait_for_selector(".wrong-door")
    assert len(posted) == 1 and posted[0] < photo.stat().st_size / 4, (posted, photo.stat())

    assert page.inner_text(".door-refused-title") == "✕ 门牌不对，不能送！"
    assert page.inner_text(".door-rooms").split("\n") == ["这是 24-2403；", "包裹是给 24-2304 的"]
    sizes = page.eval_on_selector_all(
        ".door-rooms .room", "rooms => rooms.map(r => parseFloat(getComputedStyle(r).fontSize))")
    assert min(sizes) >= 40  # px: readable at arm's length, at a dim door
    no_sideways_scroll(page)
    assert_accessible(page, "the wrong door")
    screenshot(page, shots / "door-wrong.png")

    page.fill("input[name=building]", "24")
    page.fill("input[name=room]", "2304")
    page.click(".confirm-button")
    page.wait_for_selector(".door-done")
    assert page.inner_text(".door-done-title") == "✓ 已送达 24-2304：2 件"
    assert_accessible(page, "delivered")
    screenshot(page, shots / "door-delivered.png")
    statuses = conn.execute("SELECT status FROM parcels WHERE id IN (?, ?)", day["parcels"])
    assert [r[0] for r in statuses] == ["collected", "collected"]

    page.click(".menu > summary")  # on a phone the links are in the menu
    page.click("text=当日统计")  # and the day's numbers, to compare with the committee's
    page.wait_for_selector(".count-tiles")
    assert page.inner_text('[data-scope=total] [data-count=delivered] dd') == "2"
    no_sideways_scroll(page)
    assert_accessible(page, "the day's counts")
    screenshot(page, shots / "door-counts.png")
