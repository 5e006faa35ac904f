"""The observation register on the staff site (the real app, Flask's client, a real SQLite
file): upload a list, see what it changes, confirm it; roles; a household's history."""

from __future__ import annotations

import dataclasses
import io
import os
import re

import pytest
from conftest import make_app
from openpyxl import Workbook
from test_web import AuthActions
from test_web_tasks import text_of

from kiosk.config import User
from kiosk.observation import set_observation
from kiosk.passwords import hash_password

GBK_LIST = "楼栋,房号,状态\r\n24,2304,新增\r\n29,1004,解除\r\n".encode("gbk")
FORM_VALUE = re.compile(r'name="(sha256|date|source|diff_key)" value="([^"]*)"')


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def with_user(community, clock, username: str, role: str):
    """The site with one more staff member, signed in."""
    user = User(username, hash_password(f"{username} pass", iterations=1000), role, username)
    web = dataclasses.replace(community.web, users=(*community.web.users, user))
    client = make_app(dataclasses.replace(community, web=web), clock).test_client()
    response = AuthActions(client).login(username, f"{username} pass")
    assert response.status_code == 302
    return client


def under(conn, household: str) -> bool:
    return bool(conn.execute("SELECT under_observation FROM households WHERE id = ?",
                             (household,)).fetchone()[0])


def upload(client, data: bytes, name: str = "11月29日.csv", day: str = "2026-11-29",
           source: str = "committee"):
    token = AuthActions(client).csrf("/observation")
    return client.post("/observation/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "date": day, "source": source, "list": (io.BytesIO(data), name)})


def confirm_form(page: str, **extra: str) -> dict[str, str]:
    """The confirmation form as the preview page filled it in, and its CSRF token."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    return {"csrf_token": token, **dict(FORM_VALUE.findall(page)), **extra}


def test_upload_see_the_difference_confirm_then_read_the_history(client, auth, conn):
    auth.login()
    uploaded = upload(client, GBK_LIST)
    assert uploaded.status_code == 302 and "/observation/list/" in uploaded.location
    page = client.get(uploaded.location).text
    assert "新增居家观察" in page and "解除居家观察" in page
    assert "24-2304" in page and "29-1004" in page and "变动名单" in page and "gbk" in page
    assert "确认生效：新增 1 户，解除 1 户" in page
    assert not under(conn, "24-2304")  # seen, not applied

    done = client.post("/observation/apply", data=confirm_form(page), follow_redirects=True)
    assert "名单已生效（登记第 1 号）：新增 1 户，解除 1 户。" in done.text
    assert under(conn, "24-2304") and not under(conn, "29-1004")
    entry = conn.execute("SELECT actor, source, list_date, file_name FROM observation_lists"
                         ).fetchone()
    assert tuple(entry) == ("admin@web", "committee", "2026-11-29", "11月29日.csv")
    register = text_of(done.text.split('obs-register"')[1])
    assert "11月29日.csv" in register  # the register lists it: who and from where, in words
    assert "Administrator" in register and "居委会" in register
    assert "admin@web" not in register and "committee" not in register

    history = client.get("/observation/household/24-2304").text
    assert "24-2304 的居家观察记录" in history and "目前：居家观察中" in history
    assert "新增居家观察" in history and "11月29日.csv" in history and "Administrator" in history

    again = client.post("/observation/apply", data=confirm_form(page), follow_redirects=True)
    assert "这份名单已由 Administrator 生效过（登记第 1 号），没有新的变动。" in again.text
    assert conn.execute("SELECT COUNT(*) FROM observation_lists").fetchone()[0] == 1
    kept = client.get("/observation/file/" + entry_sha(conn))
    assert kept.data == GBK_LIST and "attachment" in kept.headers["Content-Disposition"]

    english = client.get("/observation/household/29-1004?lang=en").text
    assert "Released from observation" in english and "Now: not under observation" in english


def entry_sha(conn) -> str:
    return conn.execute("SELECT sha256 FROM observation_lists").fetchone()[0]


def test_what_is_confirmed_is_what_was_shown(client, auth, conn, uow, rules, clock):
    auth.login()
    page = client.get(upload(client, GBK_LIST).location).text
    # Between the look and the click, 24-2304 is put under observation by someone else.
    set_observation("24-2304", True, uow, rules, clock, actor="li@web")
    stale = client.post("/observation/apply", data=confirm_form(page), follow_redirects=True)
    assert "核对之后住户状态已有变化" in stale.text
    assert conn.execute("SELECT COUNT(*) FROM observation_lists").fetchone()[0] == 0
    assert under(conn, "29-1004")  # nothing of the list applied
    assert "确认生效：新增 0 户，解除 1 户" in stale.text  # the difference as it is now


def test_a_list_with_problems_applies_only_when_the_rest_is_confirmed(client, auth, conn):
    conn.execute("DELETE FROM households WHERE id = '24-2403'")
    auth.login()
    data = "户号,状态\r\n24-2403,新增\r\n29-1004,解除\r\n29-1004,解除\r\n".encode()
    page = client.get(upload(client, data).location).text
    assert "第 2 行：24-2403 不在住户名单中。" in page and "24-2003 / 24-2304" in page
    assert "第 4 行：29-1004 与第 3 行重复。" in page
    assert 'name="confirm"' in page

    refused = client.post("/observation/apply", data=confirm_form(page), follow_redirects=True)
    assert "名单有问题" in refused.text and under(conn, "29-1004")
    done = client.post("/observation/apply", data=confirm_form(page, confirm="1"),
                       follow_redirects=True)
    assert "解除 1 户" in done.text and not under(conn, "29-1004")


def test_an_xlsx_upload_larger_than_other_forms_allow_is_read(client, auth, conn):
    book = Workbook()
    book.active.append(["户号", "状态", "备注"])
    book.active.append(["24-2304", "新增", "x" * 200])
    for n in range(1, 3000):  # a long list: well over the site's 64 KB for other forms
        book.active.append([f"{(n % 35) + 1}-{9000 + n}", "解除", os.urandom(16).hex()])
    buffer = io.BytesIO()
    book.save(buffer)
    assert len(buffer.getvalue()) > 64 * 1024
    auth.login()
    response = upload(client, buffer.getvalue(), "名单.xlsx")
    assert response.status_code == 302
    page = client.get(response.location).text
    assert "xlsx" in page and "24-2304" in page and "不在住户名单中" in page


def test_every_role_may_look_but_only_the_committee_and_admins_apply(community, clock, conn):
    keeper = with_user(community, clock, "zhang", "property")
    page = keeper.get(upload(keeper, GBK_LIST, source="property").location).text
    assert "只有管理员和居委会可以确认生效。" in page and 'action="/observation/apply"' not in page
    form = confirm_form(page, sha256=entry_sha_of(GBK_LIST), date="2026-11-29", diff_key="x")
    assert keeper.post("/observation/apply", data=form).status_code == 403
    assert not under(conn, "24-2304")

    committee = with_user(community, clock, "li", "committee")
    page = committee.get(upload(committee, GBK_LIST).location).text
    done = committee.post("/observation/apply", data=confirm_form(page), follow_redirects=True)
    assert "名单已生效" in done.text and under(conn, "24-2304")
    assert conn.execute("SELECT actor FROM observation_lists").fetchone()[0] == "li@web"


def entry_sha_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("path", ["/observation", "/observation/household/24-2304",
                                  "/observation/list/" + "0" * 64 + "?date=2026-11-29"])
def test_the_pages_ask_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_uploading_and_applying_need_the_forms_token(client, auth, conn):
    assert client.post("/observation/upload", data={}).status_code == 302  # to sign in
    auth.login()
    posted = client.post("/observation/upload", content_type="multipart/form-data", data={
        "date": "2026-11-29", "list": (io.BytesIO(GBK_LIST), "a.csv")})
    assert posted.status_code == 400
    assert conn.execute("SELECT COUNT(*) FROM observation_files").fetchone()[0] == 0
    form = {"sha256": entry_sha_of(GBK_LIST), "date": "2026-11-29", "diff_key": "x"}
    assert client.post("/observation/apply", data=form).status_code == 400
