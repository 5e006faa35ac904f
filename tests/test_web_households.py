"""The household list on the staff site (the real app, Flask's client, a real SQLite file):
who sees what, search, a household's page, an edit with its event, the import on real files."""

from __future__ import annotations

import codecs
import dataclasses
import html
import io
import json
import re

import pytest
from conftest import check_in, make_app
from openpyxl import Workbook
from test_web import AuthActions

from kiosk.config import User
from kiosk.passwords import hash_password

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
EDITED = "SELECT actor, household_id, detail FROM events WHERE kind = 'household_edited'"


def signed_in(community, clock, role: str):
    """The site with a staff member whose role is ``role``, signed in.

    ``gate`` is the read-only role of the gate's screen, which the config will list with the
    staff accounts in the database: the site is handed it here as the config would.
    """
    username = f"li-{role}"
    user = User(username, hash_password(f"{role} pass", iterations=1000), role, f"Li {role}")
    web = dataclasses.replace(community.web, users=(*community.web.users, user))
    client = make_app(dataclasses.replace(community, web=web), clock).test_client()
    assert AuthActions(client).login(username, f"{role} pass").status_code == 302
    return client


def text(response) -> str:
    """What a person reads on the page."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def csrf(client, path: str = "/households") -> str:
    return CSRF_RE.search(client.get(path).text)[1]


def stored(conn, household: str, column: str):
    return conn.execute(f"SELECT {column} FROM households WHERE id = ?", (household,)
                        ).fetchone()[0]


@pytest.fixture
def committee(community, clock):
    return signed_in(community, clock, "committee")


# --- who sees what --------------------------------------------------------------------------

PAGES = ["/households", "/households?b=24", "/households?q=2304", "/households/24-2304",
         "/households/import"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


@pytest.mark.parametrize("role, allowed", [
    ("admin", PAGES), ("committee", PAGES), ("property", PAGES[:4]), ("gate", [])])
def test_each_role_sees_what_it_may(community, clock, role, allowed):
    client = signed_in(community, clock, role)
    for path in PAGES:
        assert client.get(path).status_code == (200 if path in allowed else 403), (role, path)
    home = client.get("/").text if role != "gate" else ""
    assert ('href="/households"' in home) == (role != "gate")


def test_the_gate_role_can_post_nothing_here(community, clock, conn):
    gate = signed_in(community, clock, "gate")
    token = csrf(gate, "/")
    edit = gate.post("/households/24-2304", data={"csrf_token": token, "phone": "13900000000"})
    upload = gate.post("/households/import", data={"csrf_token": token})
    assert (edit.status_code, upload.status_code) == (403, 403)
    assert stored(conn, "24-2304", "phone") == "13800002304"


def test_property_staff_may_edit_but_not_import(community, clock, conn):
    staff = signed_in(community, clock, "property")
    done = staff.post("/households/24-2304", data={
        "csrf_token": csrf(staff, "/households/24-2304"), "name": "Chen Jie 陈杰",
        "phone": "13800002304;13911112222", "email": "r24-2304@sample-garden.example"})
    assert done.status_code == 302
    assert stored(conn, "24-2304", "phone") == "13800002304;13911112222"
    assert staff.post("/households/import", data={"csrf_token": csrf(staff)}).status_code == 403


# --- the list, the search, a household's page -----------------------------------------------

def test_a_building_lists_its_households_with_contacts_masked(committee, conn, community, clock):
    check_in(conn, community, clock, "24-2304")
    page = text(committee.get("/households?b=24"))
    rooms = re.findall(r"24-(\d+) ", page)
    assert rooms[:5] == ["501", "2001", "2003", "2304", "2403"]  # 501 before 2001
    assert "138****2304" in page and "r***@sample-garden.example" in page
    assert "13800002304" not in page and "r24-2304@" not in page
    assert "待取 1 件" in page


@pytest.mark.parametrize("query, found", [
    ("24-2304", ["24-2304"]),
    ("24栋2304室", ["24-2304"]),
    ("24-23", ["24-2304"]),
    ("3544", ["2-902"]),  # the last four digits of 2-902's phone, as a waybill shows them
    ("周敏", ["24-2403"]),
    ("24-", ["24-501", "24-2001", "24-2003", "24-2304", "24-2403"]),
    ("nobody", []),
])
def test_search_by_room_phone_tail_or_name(committee, query, found):
    page = committee.get("/households", query_string={"q": query}).text
    assert re.findall(r'data-household="([^"]+)"', page) == found


def test_a_household_page_shows_its_contacts_parcels_and_observation(committee, conn, community,
                                                                      clock):
    parcel = check_in(conn, community, clock, "24-2304")
    page = committee.get("/households/24-2304")
    shown = text(page)
    assert "24栋 2304" in shown and "13800002304" in shown
    assert "r24-2304@sample-garden.example" in shown
    assert "待取快递：1 件" in shown and parcel.slot in shown
    assert f'href="/parcels/{parcel.parcel}"' in page.text
    assert 'href="/observation/household/24-2304"' in page.text  # its observation history
    assert "未居家观察" in shown and "居家观察状态只能通过居家观察名单更改" in shown
    assert 'name="under_observation"' not in page.text  # not edited here
    english = text(committee.get("/households/24-2304?lang=en"))
    assert "Building 24, room 2304" in english and "Parcels waiting: 1" in english


def test_an_unknown_household_is_not_found(committee):
    assert committee.get("/households/24-9999").status_code == 404
    assert committee.get("/households/not-a-room").status_code == 404


# --- an edit: refused with a clear message, then stored and recorded ------------------------

def edit_form(client, household: str = "24-2304", **fields: str) -> dict[str, str]:
    page = client.get(f"/households/{household}").text
    seen = re.search(r'name="seen" value="([^"]+)"', page)[1]
    return {"csrf_token": CSRF_RE.search(page)[1], "seen": seen, "name": "Chen Jie 陈杰",
            "phone": "13800002304", "email": "r24-2304@sample-garden.example", **fields}


def test_an_edit_refuses_a_bad_phone_then_stores_a_good_one_with_its_actor(committee, conn):
    bad = committee.post("/households/24-2304",
                         data=edit_form(committee, phone="13800002304;139 0000 12x4"))
    assert bad.status_code == 400
    assert "电话号码 139****12x4 不对：每个号码 7 到 15 位数字" in text(bad)
    assert "没有保存任何修改" in text(bad)
    assert 'value="13800002304;139 0000 12x4"' in bad.text  # what was typed, to correct
    assert stored(conn, "24-2304", "phone") == "13800002304"
    assert conn.execute(EDITED).fetchall() == []

    form = edit_form(committee, phone="13800002304；139 1111 2222", email="chen@example.org",
                     under_observation="1")  # not a field of this form: ignored
    done = committee.post("/households/24-2304", data=form, follow_redirects=True)
    assert "24-2304 已保存：修改了电话、邮箱。" in text(done)
    assert stored(conn, "24-2304", "phone") == "13800002304;139 1111 2222"
    assert stored(conn, "24-2304", "email") == "chen@example.org"
    assert stored(conn, "24-2304", "under_observation") == 0
    [(actor, household, detail)] = conn.execute(EDITED).fetchall()
    assert (actor, household) == ("li-committee@web", "24-2304")
    assert json.loads(detail) == {"fields": ["phone", "email"],
                                  "phone": ["138****2304", "138****2304;139****2222"],
                                  "email": ["r***@sample-garden.example", "c***@example.org"]}
    assert "Li committee" in text(done) and "138****2304;139****2222" in text(done)  # the edit

    english = committee.post("/households/24-2304?lang=en",
                             data=edit_form(committee, email="chen@example,org"))
    assert english.status_code == 400
    assert "c***@example,org is not an e-mail address" in text(english)


def test_an_edit_over_someone_elses_is_refused_and_shows_both(committee, conn):
    form = edit_form(committee, name="Chen")
    conn.execute("UPDATE households SET name = 'Wang changed it' WHERE id = '24-2304'")
    late = committee.post("/households/24-2304", data=form)
    assert late.status_code == 409 and "已被其他人修改" in text(late)
    assert "Wang changed it" in text(late) and 'value="Chen"' in late.text
    assert stored(conn, "24-2304", "name") == "Wang changed it"


def test_a_phone_typed_onto_the_confusable_room_is_pointed_out(committee, conn):
    form = edit_form(committee, "24-2403", name="Zhou Min 周敏",
                     phone="13800002403;13800002304", email="r24-2403@sample-garden.example")
    done = committee.post("/households/24-2403", data=form, follow_redirects=True)
    assert "24-2403 的电话 138****2304 与 24-2304 的相同：这两个房号容易混淆" in text(done)


def test_an_edit_without_the_form_token_is_refused(committee, conn):
    form = edit_form(committee, phone="13911112222")
    del form["csrf_token"]
    assert committee.post("/households/24-2304", data=form).status_code == 400
    assert stored(conn, "24-2304", "phone") == "13800002304"


# --- the import: upload, preview, confirm -----------------------------------------------------

LIST = [["楼栋", "房号", "姓名", "电话", "邮箱"],
        ["24", "2304", "陈杰", "13800002304;13911112222", "chen@example.org"],
        ["24", "2403", "Zhou Min 周敏", "13800002403", "r24-2403@sample-garden.example"],
        ["7", "0101", "新住户", "13700000101", ""]]


def csv_bytes(encoding: str) -> bytes:
    body = "".join(",".join(row) + "\r\n" for row in LIST)
    if encoding == "utf-8-bom":
        return codecs.BOM_UTF8 + body.encode("utf-8")
    return body.encode(encoding)


def xlsx_bytes() -> bytes:
    book = Workbook()
    for row in LIST:  # numbers as Excel keeps them when typed without a quote
        book.active.append([int(c) if c.isdigit() else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str):
    return client.post("/households/import", content_type="multipart/form-data", data={
        "csrf_token": csrf(client, "/households/import"), "list": (io.BytesIO(data), name)})


def confirm(client, preview_path: str, page: str):
    key = re.search(r'name="diff_key" value="([^"]+)"', page)[1]
    return client.post(preview_path, data={"csrf_token": CSRF_RE.search(page)[1],
                                           "diff_key": key}, follow_redirects=True)


@pytest.mark.parametrize("name, data, encoding", [
    ("住户.csv", csv_bytes("utf-8"), "utf-8"),
    ("住户.csv", csv_bytes("utf-8-bom"), "utf-8-sig"),
    ("住户.csv", csv_bytes("gbk"), "gbk"),
    ("住户.xlsx", xlsx_bytes(), "xlsx"),
])
def test_an_upload_is_previewed_then_confirmed(committee, conn, name, data, encoding):
    uploaded = upload(committee, data, name)
    assert uploaded.status_code == 302 and "/households/import/" in uploaded.location
    preview = committee.get(uploaded.location)
    shown = text(preview)
    assert f"{name} · {encoding}" in shown
    assert "新增 1 户，修改 1 户，不变 1 户，有问题 0 行" in shown
    assert "7-101" in shown and "新住户" in shown
    assert "电话: 138****2304 → 138****2304;139****2222" in shown  # before and after, masked
    assert "13911112222" not in preview.text
    assert stored(conn, "24-2304", "email") == "r24-2304@sample-garden.example"  # only shown

    done = confirm(committee, uploaded.location, preview.text)
    assert "住户名单已生效：新增 1 户，修改 1 户。" in text(done)
    assert stored(conn, "24-2304", "phone") == "13800002304;13911112222"
    assert stored(conn, "7-101", "name") == "新住户"
    event = conn.execute("SELECT actor, detail FROM events WHERE kind = 'households_imported'"
                         " ORDER BY id DESC").fetchone()
    assert event["actor"] == "li-committee@web"
    assert json.loads(event["detail"])["sha256"] == uploaded.location.rsplit("/", 1)[1]


def test_what_is_confirmed_is_what_was_shown(committee, conn):
    uploaded = upload(committee, csv_bytes("utf-8"), "住户.csv")
    preview = committee.get(uploaded.location).text
    conn.execute("UPDATE households SET name = 'Wang' WHERE id = '24-2403'")  # meanwhile
    stale = confirm(committee, uploaded.location, preview)
    assert "核对之后住户信息已有变化，名单没有生效" in text(stale)
    assert stored(conn, "24-2304", "phone") == "13800002304"
    assert "修改 2 户" in text(stale)  # the difference as it is now: 24-2403's name too


def test_refused_lines_are_worded_and_nothing_can_be_confirmed(committee, conn):
    data = "楼栋,房号,电话\r\n24,2304,138-0000-23O4\r\n99,1,\r\n24,2304,13800002304\r\n"
    page = committee.get(upload(committee, data.encode("gbk"), "名单.csv").location)
    shown = text(page)
    assert "第 2 行：电话号码 138****23O4 不对" in shown
    assert "第 3 行：99栋不是本小区的楼栋" in shown
    assert "有问题 2 行" in shown  # line 4 repeats a refused line: it counts as the first
    assert "名单中有问题的行" in shown and 'name="diff_key"' not in page.text


def test_a_bad_encoding_is_one_line_on_the_site(committee, conn):
    utf16 = "楼栋,房号\r\n24,2304\r\n".encode("utf-16-le")  # UTF-16 without its BOM
    page = committee.get(upload(committee, utf16, "名单.csv").location)
    assert page.status_code == 400
    assert ("名单.csv：文件编码不是 UTF-8 或 GBK。请在 Excel 中另存为“CSV UTF-8”或 .xlsx"
            in text(page))
    assert "Traceback" not in page.text


def test_an_upload_without_a_file_or_a_header_is_told_so(committee):
    empty = committee.post("/households/import", data={"csrf_token": csrf(committee)},
                           follow_redirects=True)
    assert "请选择名单文件。" in text(empty)
    no_header = committee.get(upload(committee, "姓名,电话\r\n陈杰,1\r\n".encode(),
                                     "名单.csv").location)
    assert no_header.status_code == 400 and "无法读取这份名单" in text(no_header)
    assert "missing: building, room" in text(no_header)


def test_an_unknown_upload_is_not_found(committee):
    assert committee.get("/households/import/" + "0" * 64).status_code == 404
    assert committee.get("/households/import/not-a-hash").status_code == 404


def test_a_whole_compound_s_list_is_not_refused_for_its_size(committee):
    """A committee's full list (thousands of flats, a few hundred KB) is more than the 64 KB
    other forms may send: the import's own limit must apply before the form is read."""
    source = (csv_bytes("utf-8").decode("utf-8").splitlines())
    header, rows = source[0], source[1:]
    padding = [f"{b},{f}{u:02d},住户{b}-{f}{u:02d},1380000{b:02d}{u:02d},r{b}@x.example"
               for b in range(1, 36) for f in range(1, 34) for u in range(1, 5)]
    data = "\n".join([header, *rows, *padding]).encode("utf-8")
    assert len(data) > 128 * 1024
    uploaded = upload(committee, data, "全体住户.csv")
    assert uploaded.status_code == 302 and "/households/import/" in uploaded.location
