"""The staff accounts page in a real headless Chromium, on a phone (390 x 844) and a desktop:
an admin adds an account through the form, and disabling it signs that person out.

Each state passes axe-core. SHELF_SCREENSHOTS=DIR keeps the screenshots (users-*.png); the
README's come from tests/test_pages_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    DESKTOP,
    PHONE,
    add_member,
    assert_accessible,
    screenshot,
    served,
)

from web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def site(community, clock) -> Iterator[str]:
    add_member(community, "li", "committee", name="李伟")
    add_member(community, "mensheng", "gate", name="门岗小王")
    with served(create_app(community, clock=clock)) as url:
        yield url


def sign_in(page, site: str, username: str, password: str) -> None:
    page.goto(f"{site}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/")


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_an_admin_adds_and_disables_an_account(browser, site, screenshots, size, name):
    admin = browser.new_context(viewport=size, device_scale_factor=2 if size is PHONE else 1,
                                is_mobile=size is PHONE, has_touch=size is PHONE,
                                locale="zh-CN").new_page()
    admin.set_default_timeout(BROWSER_TIMEOUT_MS)
    sign_in(admin, site, "admin", ADMIN_PASSWORD)
    if size is PHONE:
        admin.click(".menu > summary")  # the links fold into the menu on a phone
    admin.click("text=账号管理")
    admin.wait_for_url(f"{site}/admin/users")
    form = admin.locator("form.add-account")
    # The least a new account may do is the default: more is chosen (issue 20).
    assert form.locator("select[name=role]").input_value() == "gate"
    form.locator("input[name=username]").fill("zhang")
    form.locator("input[name=name]").fill("张敏")
    form.locator("select[name=role]").select_option("property")
    form.locator("input[name=password]").fill("zhang's pass")
    form.locator("button[type=submit]").click()
    admin.wait_for_selector("text=已添加账号 zhang。")
    row = admin.locator('tr[data-username="zhang"]')
    assert "张敏" in row.inner_text() and "物业" in row.inner_text()
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= size["width"]
    assert row.locator(".button:visible").count() == 2  # 停用, 修改
    for button in row.locator(".button:visible").all():
        assert button.bounding_box()["height"] >= 44  # a thumb's size, styled like the site
    assert_accessible(admin, f"the accounts ({name})")
    screenshot(admin, screenshots / f"users-{name}.png")

    zhang = browser.new_context(viewport=size, locale="zh-CN").new_page()
    zhang.set_default_timeout(BROWSER_TIMEOUT_MS)
    sign_in(zhang, site, "zhang", "zhang's pass")
    row.locator("text=停用").click()  # asks first: nothing is disabled yet
    admin.wait_for_url(f"{site}/admin/users/zhang/disable")
    assert "停用账号 zhang？" in admin.inner_text("h1")
    assert_accessible(admin, f"disable, asked ({name})")
    zhang.goto(f"{site}/tasks")
    assert zhang.url == f"{site}/tasks"  # still signed in
    admin.click("text=确认停用")
    admin.wait_for_selector("text=已停用 zhang，其登录已全部退出。")
    zhang.goto(f"{site}/tasks")
    assert zhang.url.startswith(f"{site}/login")  # signed out at once
    zhang.context.close()
    admin.context.close()


def test_disabling_asks_first_without_a_script_too(browser, site, conn):
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, site, "admin", ADMIN_PASSWORD)
        page.goto(f"{site}/admin/users")
        page.locator('tr[data-username="li"]').locator("text=停用").click()
        page.wait_for_url(f"{site}/admin/users/li/disable")
        assert not disabled(conn, "li")
        page.click("text=不停用")  # changed their mind
        page.wait_for_url(f"{site}/admin/users")
        assert not disabled(conn, "li")
        page.locator('tr[data-username="li"]').locator("text=停用").click()
        page.click("text=确认停用")
        page.wait_for_selector("text=已停用 li，其登录已全部退出。")
        assert disabled(conn, "li")
    finally:
        context.close()


def disabled(conn, username: str) -> bool:
    return bool(conn.execute("SELECT disabled FROM staff WHERE username = ?",
                             (username,)).fetchone()[0])
