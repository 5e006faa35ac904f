"""The district's accounts on the web (``/district/accounts``, web.centre.district.accounts):
a district administrator adds an account, lends it to a compound for a period, ends the
lending, withdraws one not yet begun and disables an account, all through the same use cases
as `shelf users`; the lent account acts in that compound only while lent. On a real
PostgreSQL, with the real sites of two compounds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    CHEAP_HASHER,
    DESKTOP,
    PHONE,
    assert_accessible,
    screenshot,
    served,
)
from district import COMPOUNDS, CSRF_RE, district, sign_in
from test_district_staff import act, acting_site

from kiosk.centre.db import connect
from kiosk.centre.district_staff import add_district_account, assign
from kiosk.passwords import hash_password

EAST, WEST = COMPOUNDS[0], COMPOUNDS[1]


@pytest.fixture
def office(tmp_path, community_template, centre_url, clock):
    """Two compounds, a district administrator and a district staff account."""
    with district(tmp_path, community_template, centre_url, clock, COMPOUNDS[:2],
                  ("north",)) as d, connect(centre_url) as pg:
        secret = hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER)
        for username, role in (("chief", "district_admin"), ("wang", "district_staff")):
            add_district_account(pg, clock.now(), username=username, name=username.title(),
                                 role=role, password_hash=secret, actor="tests")
        yield d, centre_url


def post(client, path: str, **form: str):
    token = CSRF_RE.search(client.get("/district/accounts").text)[1]
    return client.post(path, data={"csrf_token": token, **form})


def lent_rows(page: str) -> list[str]:
    return re.findall(r'<tr data-assignment="(\d+)">', page)


def test_an_administrator_lends_an_account_and_ends_it_and_it_acts_only_while_lent(
        office, clock):
    d, _ = office
    chief, answer = sign_in(d.sites[WEST], "chief")  # any compound's site serves the district
    assert answer.status_code == 302
    page = chief.get("/district/accounts?lang=en")
    assert page.status_code == 200 and "Nobody is lent" in page.text
    assert 'data-username="wang"' in page.text and "Accounts" in page.text

    day = clock.now().date().isoformat()
    lent = post(chief, "/district/accounts/lend", username="wang", community=EAST,
                role="property", team="", **{"from": day, "until": day})
    assert lent.status_code == 302
    page = chief.get("/district/accounts?lang=en").text
    [row] = lent_rows(page)
    assert f"Lent wang to {EAST}." in page
    shown = page.split(f'data-assignment="{row}"')[1].split("</tr>")[0]
    assert f"<small>{EAST}</small>" in shown
    assert shown.count(f"<td>{day}</td>") == 2  # one whole day: from that day, until that day

    east = acting_site(d.configs[EAST], clock)
    wang, _ = sign_in(east, "wang")
    assert act(wang) == 200  # lent to the east as property: acts there
    west = acting_site(d.configs[WEST], clock)
    wang_west, _ = sign_in(west, "wang")
    assert act(wang_west) == 403  # never in another compound

    ended = post(chief, f"/district/accounts/lent/{row}/end")
    assert ended.status_code == 302
    page = chief.get("/district/accounts?lang=en").text
    assert f"Ended the lending of wang to {EAST}." in page and lent_rows(page) == []
    assert act(wang) == 403  # from its next request on
    again = post(chief, f"/district/accounts/lent/{row}/end")
    assert "That lending has ended already." in chief.get(
        again.location + "?lang=en").text


def test_a_lending_not_begun_is_withdrawn_and_bad_dates_are_refused_in_chinese(office, clock):
    d, centre_url = office
    with connect(centre_url) as pg:
        later = assign(pg, clock.now(), username="wang", community=EAST, role="gate",
                       team=None, starts_at=clock.now() + timedelta(days=2),
                       ends_at=clock.now() + timedelta(days=3), actor="tests")
    chief, _ = sign_in(d.sites[EAST], "chief")
    page = chief.get("/district/accounts?lang=zh").text
    assert lent_rows(page) == [str(later.id)] and "撤销" in page
    post(chief, f"/district/accounts/lent/{later.id}/end")
    assert lent_rows(chief.get("/district/accounts").text) == []
    with connect(centre_url) as pg:
        kinds = [r["kind"] for r in pg.execute(
            "SELECT kind FROM centre_events WHERE kind LIKE 'staff_assign%' ORDER BY id")]
    assert kinds == ["staff_assigned", "staff_assignment_withdrawn"]

    refused = post(chief, "/district/accounts/lend", username="wang", community=EAST,
                   role="property", **{"from": "2026-12-05", "until": "2026-12-01"})
    assert "日期有误" in chief.get(refused.location + "?lang=zh").text
    unknown = post(chief, "/district/accounts/lend", username="wang", community="nowhere",
                   role="property", **{"from": "2026-12-01", "until": "2026-12-01"})
    assert "中心没有这个小区" in chief.get(unknown.location + "?lang=zh").text
    assert lent_rows(chief.get("/district/accounts").text) == []


def test_an_administrator_adds_and_disables_a_district_account(office, clock):
    d, _ = office
    chief, _ = sign_in(d.sites[EAST], "chief")
    added = post(chief, "/district/accounts", username="zhou", name="Zhou",
                 role="district_staff", password=ADMIN_PASSWORD)
    assert added.status_code == 302
    zhou, answer = sign_in(d.sites[EAST], "zhou")
    assert answer.status_code == 302 and zhou.get("/district").status_code == 200
    assert zhou.get("/district/accounts").status_code == 403  # reads; manages no one

    post(chief, "/district/accounts/zhou/disable")
    page = chief.get("/district/accounts?lang=en").text
    assert 'data-username="zhou" class="disabled"' in page
    assert zhou.get("/district", headers={"Accept": "application/json"}).status_code == 401
    post(chief, "/district/accounts/zhou/enable")
    assert 'data-username="zhou" class="disabled"' not in chief.get("/district/accounts").text


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_accounts_page_in_chromium(browser, office, clock, size, name, screenshots):
    d, _ = office
    phone = size is PHONE
    context = browser.new_context(viewport=size, device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone, locale="zh-CN")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    with served(d.sites[EAST]) as site:
        try:
            page = context.new_page()
            page.goto(f"{site}/login")
            page.fill("#username", "chief")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{site}/")
            page.goto(f"{site}/district/accounts")
            assert page.locator("h1").inner_text() == "街道账号与支援人员"
            form = page.locator("form.lend-account")
            form.locator("select[name=username]").select_option("wang")
            form.locator("select[name=community]").select_option(WEST)
            form.locator("select[name=role]").select_option("gate")
            form.locator("button[type=submit]").click()
            page.wait_for_selector("tr[data-assignment]")
            row = page.locator("tr[data-assignment]").first.inner_text()
            assert "wang" in row and WEST in row
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= size["width"], f"{name}: the page scrolls sideways ({width} px)"
            assert_accessible(page, f"/district/accounts ({name}, zh)")
            screenshot(page, screenshots / f"district-accounts-{name}.png")
            page.goto(f"{site}/district/accounts?lang=en")
            assert_accessible(page, f"/district/accounts ({name}, en)")
        finally:
            context.close()
