"""The staff accounts page in a real headless Chromium, on a phone (390 x 844) and a desktop:
an admin adds an account through the form, and disabling it signs that person out.

Set USERS_SCREENSHOTS=DIR to keep the screenshots (accounts-phone.png, accounts-desktop.png);
`USERS_SCREENSHOTS=docs` refreshes the README's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADMIN_PASSWORD, BROWSER_TIMEOUT_MS, PHONE, add_member, served

from web import create_app

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def site(community, clock) -> Iterator[str]:
    add_member(community, "li", "committee", name="李伟")
    add_member(community, "mensheng", "gate", name="门岗小王")
    with served(create_app(community, clock=clock)) as url:
        yield url


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("USERS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page, site: str, username: str, password: str) -> None:
    page.goto(f"{site}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/")


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_an_admin_adds_and_disables_an_account(browser, site, tmp_path, size, name):
    admin = browser.new_context(viewport=size, device_scale_factor=2 if size is PHONE else 1,
                                is_mobile=size is PHONE, has_touch=size is PHONE,
                                locale="zh-CN").new_page()
    admin.set_default_timeout(BROWSER_TIMEOUT_MS)
    sign_in(admin, site, "admin", ADMIN_PASSWORD)
    admin.click("text=账号管理")
    admin.wait_for_url(f"{site}/admin/users")
    form = admin.locator("form.add-account")
    form.locator("input[name=username]").fill("zhang")
    form.locator("input[name=name]").fill("张敏")
    form.locator("select[name=role]").select_option("property")
    form.locator("input[name=password]").fill("zhang's pass")
    form.locator("button[type=submit]").click()
    admin.wait_for_selector("text=已添加账号 zhang。")
    row = admin.locator('tr[data-username="zhang"]')
    assert "张敏" in row.inner_text() and "物业" in row.inner_text()
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= size["width"]
    admin.screenshot(path=str(screenshots(tmp_path) / f"accounts-{name}.png"), full_page=True)

    zhang = browser.new_context(viewport=size, locale="zh-CN").new_page()
    zhang.set_default_timeout(BROWSER_TIMEOUT_MS)
    sign_in(zhang, site, "zhang", "zhang's pass")
    row.locator("text=停用").click()
    admin.wait_for_selector("text=已停用 zhang，其登录已全部退出。")
    zhang.goto(f"{site}/tasks")
    assert zhang.url.startswith(f"{site}/login")  # signed out at once
    zhang.context.close()
    admin.context.close()
