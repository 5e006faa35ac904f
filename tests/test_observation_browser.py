"""The observation register in a real headless Chromium: upload the day's XLSX, read the
difference on a PC and on a phone, confirm it.

Each state passes axe-core. SHELF_SCREENSHOTS=DIR keeps the screenshots (observation-*.png).
"""

from __future__ import annotations

import pytest
from conftest import BROWSER_TIMEOUT_MS, assert_accessible, screenshot
from openpyxl import Workbook
from test_web_browser import live_server, sign_in  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def day_list(path) -> None:
    book = Workbook()
    sheet = book.active
    for row in (["示例花园 11月29日居家观察变动"], ["楼栋", "房号", "状态"], [24, 2304, "新增"],
                [24, 2340, "新增"], [29, 1004, "解除"], [29, 1004, "解除"]):
        sheet.append(row)
    book.save(path)


def test_upload_an_xlsx_read_the_difference_and_confirm_it(live_server, browser, conn,  # noqa: F811
                                                          tmp_path, screenshots):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        sign_in(page, live_server)
        page.click("text=居家观察")
        page.wait_for_url(f"{live_server}/observation")
        path = tmp_path / "11月29日.xlsx"
        day_list(path)
        page.set_input_files("#obs-list", str(path))
        page.select_option("#obs-source", "committee")
        page.click(".obs-upload button[type=submit]")
        page.wait_for_selector(".obs-diff")

        assert page.inner_text(".obs-added").count("24-2304") == 1
        assert "29-1004" in page.inner_text(".obs-released")
        unknown = page.inner_text(".obs-unknown")
        assert "24-2340" in unknown and "易混房号：24-2304" in unknown
        problems = page.locator(".obs-problems li")
        assert problems.count() == 2  # the unknown room and the duplicate, line by line
        assert page.inner_text(".obs-problems li >> nth=1") == "第 6 行：29-1004 与第 5 行重复。"
        assert_accessible(page, "a list's difference")
        screenshot(page, screenshots / "observation-diff.png")

        page.set_viewport_size({"width": 390, "height": 844})  # a phone at the door
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        assert_accessible(page, "a list's difference on a phone")
        screenshot(page, screenshots / "observation-diff-phone.png")
        page.set_viewport_size({"width": 1280, "height": 900})

        page.check(".obs-confirm input")
        page.click(".obs-apply button[type=submit]")
        page.wait_for_url(f"{live_server}/observation")
        assert "名单已生效（登记第 1 号）：新增 1 户，解除 1 户。" in page.inner_text("main")
        assert "11月29日.xlsx" in page.inner_text(".obs-register")
        assert_accessible(page, "the register")
        screenshot(page, screenshots / "observation-register.png")
    finally:
        context.close()
    under = conn.execute("SELECT under_observation FROM households WHERE id = '24-2304'")
    assert under.fetchone()[0] == 1
