"""The pickup mail as a resident's phone shows it: the real mail (through the real SMTP
catcher) opened in headless Chromium, its inline QR as the mail reader puts it in place.

Set SHELF_MAIL_SCREENSHOT=docs/pickup-notice.png to refresh the README's picture of it.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from test_notice_words import channels, mail, worker_pass  # noqa: F401 (fixtures)

from kiosk.notices.render import QR_ID
from kiosk.services import Rules, act_on_carrier
from kiosk.store import SqliteUnitOfWork

WIDTH = 420  # a phone's mail reader, as the README's picture shows it


def test_the_pickup_mail_is_chinese_with_its_english_half_marked_and_the_qr_on_top(
        conn, community, clock, mail, channels, browser, tmp_path):  # noqa: F811
    # Most parcels come with a courier's waybill only: the courier typed the room.
    done = act_on_carrier("SF1234567890", SqliteUnitOfWork(conn), Rules.from_config(community),
                          clock, room="24-2304", phone_tail="2304")
    assert done.action == "checkin"
    worker_pass(conn, community, channels, clock)
    [message] = mail.messages
    [image] = [p for p in message.walk() if p["Content-ID"] == f"<{QR_ID}>"]
    inline = "data:image/png;base64," + base64.b64encode(image.get_content()).decode()
    html = message.get_body(("html",)).get_content().replace(f"cid:{QR_ID}", inline)

    page = browser.new_page(viewport={"width": WIDTH, "height": 800})
    try:
        page.set_content(html)
        assert page.evaluate("document.documentElement.lang") == "zh-Hans"
        assert page.title() == message["Subject"]
        english = page.locator('[lang="en"]')
        assert english.count() == 1 and english.inner_text().startswith("Slot: A-12")
        assert page.get_attribute("img", "alt") == "取件二维码"
        # The QR is at the top, under the slot and the code; the words point up to it.
        qr_bottom = page.locator("img").bounding_box()["y"] + 220
        how = page.get_by_text("取件时，请将取件二维码").bounding_box()["y"]
        assert qr_bottom <= how
        words = page.inner_text("body")
        assert "下方" not in words and "below" not in words
        assert "在本邮件顶部" in words and "at the top of this mail" in words
        assert "住户：24-2304 · 快递单号：SF1234567890" in words  # the courier's own number
        shot = Path(os.environ.get("SHELF_MAIL_SCREENSHOT") or tmp_path / "pickup-notice.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()
