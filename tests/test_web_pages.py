"""What staff read on the grid, the records and the lists, in their language (issue 20).

Parcels come in through the real services; the pages are read as a person reads them, in
Chinese and English. tests/test_pages_browser.py walks the same pages in a real browser.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from conftest import check_in, pickup_code
from test_follow_web import text_of
from test_web_tasks import shanghai, signed_in, with_staff

from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.observation_register import apply_list
from kiosk.services import Rules, act_on_carrier, act_on_payload, pick_up
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import hand_over_due, mark_fresh
from web import create_app

DAY = 86400
STAFF = {"li": "committee", "zhang": "property"}


@pytest.fixture
def site(community, clock):
    app = create_app(with_staff(community, STAFF), clock=clock)
    app.config["TESTING"] = True
    return app


def grid(client, lang: str = "zh") -> str:
    return client.get(f"/shelf/grid?lang={lang}", headers={"Accept": "application/json"}
                      ).json["html"]


def parcel_item(html: str, parcel: int) -> str:
    found = re.search(rf'<li class="parcel[^"]*" data-parcel="{parcel}">.*?</li>', html, re.S)
    assert found, f"parcel {parcel} is not on the grid"
    return found[0]


def shelve(community, conn, clock, household: str, ref: str, *, fresh: bool = False):
    label = make_label(community.label_secret, HouseholdId.parse(household), ref, fresh=fresh)
    done = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(community),
                          clock)
    assert done.action == "checkin", done
    return done


# --- the grid ----------------------------------------------------------------------------------

def test_the_grid_marks_fresh_food_and_unsettled_rooms_and_links_every_parcel_and_slot(
        site, community, conn, clock):
    old = shelve(community, conn, clock, "24-2304", "SF1029384756")
    clock.advance(9 * DAY)
    fresh = shelve(community, conn, clock, "24-2304", "MT2304", fresh=True)
    typed = act_on_carrier("KD1234567890", SqliteUnitOfWork(conn), Rules.from_config(community),
                           clock, room="24-2403", keep_room=True)
    admin = signed_in(site)
    for lang, fresh_word, unsettled, nine in (("zh", "生鲜", "房号待核实", "9 天"),
                                               ("en", "Fresh", "room not confirmed", "9 days")):
        html = grid(admin, lang)
        item = parcel_item(html, fresh.parcel)
        assert "fresh" in item.split(">")[0] and fresh_word in text_of(item)
        assert unsettled not in text_of(item)
        item = parcel_item(html, typed.parcel)
        assert "unconfirmed" in item.split(">")[0] and unsettled in text_of(item)
        item = parcel_item(html, old.parcel)
        assert f'href="/parcels/{old.parcel}"' in item
        assert nine in text_of(item) and "11-" not in text_of(item)  # days, not a date
        assert f'title="{"入架时间" if lang == "zh" else "Checked in"} 11-' in item
        assert f'href="/shelf/slot/{old.slot}"' in html and f'href="/shelf/slot/{typed.slot}"' \
            in html
    slot_page = admin.get(f"/shelf/slot/{old.slot}?lang=zh").text  # the slot's page: the same marks
    assert "9 天" in text_of(parcel_item(slot_page, old.parcel))
    assert "生鲜" in text_of(parcel_item(slot_page, fresh.parcel))


def test_api_slots_adds_fresh_and_keeps_every_key(site, community, conn, clock):
    fresh = shelve(community, conn, clock, "24-2304", "MT2304", fresh=True)
    plain = shelve(community, conn, clock, "2-902", "SF0902")
    slots = signed_in(site).get("/api/slots").json["slots"]
    parcels = {p["id"]: p for slot in slots for p in slot["parcels"]}
    assert set(parcels[plain.parcel]) == {"id", "household", "ref", "checked_in_at",
                                          "door_delivery", "kind", "room_confirmed", "fresh",
                                          "placed"}  # issue 24: null without a slot button
    assert parcels[plain.parcel]["placed"] is None
    assert (parcels[fresh.parcel]["fresh"], parcels[plain.parcel]["fresh"]) == (True, False)


# --- a parcel's record -------------------------------------------------------------------------

def test_a_parcel_marked_fresh_at_the_gate_reads_in_words_with_who_and_where(
        site, community, conn, clock):
    done = shelve(community, conn, clock, "24-2304", "MT2304")
    assert mark_fresh(done.parcel, SqliteUnitOfWork(conn), Rules.from_config(community), clock,
                      actor="courier@kiosk", source="gate-keypad").action != "rejected"
    admin = signed_in(site)
    zh = text_of(admin.get(f"/parcels/{done.parcel}?lang=zh").text)
    en = text_of(admin.get(f"/parcels/{done.parcel}?lang=en").text)
    for words in (zh, en):
        assert "parcel_fresh" not in words and "courier@kiosk" not in words
        assert "gate-keypad" not in words
    assert "标记为生鲜" in zh and "快递员在门岗屏幕标记为生鲜，优先处理" in zh
    assert "快递员（摄像头）" in zh  # who and where of the check-in, in words
    assert "（邮件，" in zh and "email" not in zh  # the channel of a notice, in words
    assert "Marked fresh" in en and "Marked as fresh food by the courier at the gate's screen" in en
    assert re.search(r"MT2304 · 在架，A-\d+ 格 生鲜", zh)  # the mark on the record's head


# --- what needs attention ----------------------------------------------------------------------

def test_a_waybill_scanned_twice_is_one_row_and_refusals_are_said_to_staff_as_staff(
        site, community, conn, clock):
    rules, uow = Rules.from_config(community), SqliteUnitOfWork(conn)
    for _ in range(3):
        assert act_on_payload(b"KD2222333344", uow, rules, clock, kind="CODE128").action == \
            "needs_room"
        clock.advance(60)
    forged = make_label(b"another-community-key-0123456789", HouseholdId(24, "2304"), "SF77")
    assert act_on_payload(forged.encode(), uow, rules, clock).error == "forged"
    stranger = make_label(community.label_secret, HouseholdId(24, "2340"), "SF88")
    assert act_on_payload(stranger.encode(), uow, rules, clock).error == "unknown_household"
    li = signed_in(site, "li")
    page = li.get("/exceptions?lang=zh").text
    assert page.count('data-error="needs_room"') == 1
    row = page[page.index('data-error="needs_room"'):].split("</li>")[0]
    assert "共扫描 3 次" in text_of(row)
    words = text_of(page)
    assert "请联系工作人员" not in words  # the gate's words to couriers, not to staff
    assert "标签或门贴无效（伪造或来自其他小区）" in words and "住户名单里没有这一户" in words
    assert "is not in the household list" not in words  # the core's English
    english = text_of(li.get("/exceptions?lang=en").text)
    assert "ask the staff" not in english and "scanned 3 times" in english


# --- the day's counts --------------------------------------------------------------------------

def test_couriers_and_residents_at_the_gate_are_self_service_not_people(site, community, conn,
                                                                        clock):
    check_in(conn, community, clock, "24-2304", "SF2304")  # courier@kiosk
    pick_up(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn), Rules.from_config(community),
            clock)  # resident@kiosk
    li = signed_in(site, "li")
    page = li.get("/counts?lang=zh").text
    people = page[page.index('id="counts-people"'):page.index('id="counts-self"')]
    assert "@kiosk" not in people and "这一天没有工作人员的记录" in text_of(people)
    gate = text_of(page[page.index('id="counts-self"'):])
    assert "门岗自助" in gate and "快递员 · 入架 1" in gate and "住户 · 货架取走 1" in gate
    rows = list(csv.DictReader(io.StringIO(li.get("/counts.csv?lang=en").text.lstrip("\ufeff"))))
    courier = next(r for r in rows if r["Person"] == "courier@kiosk")
    assert (courier["Scope"], courier["Name"]) == ("gate self-service", "the courier")


# --- the observation register ------------------------------------------------------------------

def test_the_register_words_where_a_list_came_from_and_who_applied_it(site, community, conn,
                                                                      clock):
    apply_list("楼栋,房号,状态\n24,2003,新增\n".encode(), "12月3日.csv", SqliteUnitOfWork(conn),
               Rules.from_config(community), clock, list_date=date(2026, 12, 3),
               source="committee", actor="root@shell")
    li = signed_in(site, "li")
    for lang, source, who in (("zh", "居委会", "命令行（root）"),
                              ("en", "Residents' committee", "the command line (root)")):
        page = li.get(f"/observation?lang={lang}").text
        register = text_of(page[page.index('class="data-table cards obs-register"'):])
        assert source in register and who in register, lang
        assert "root@shell" not in register
        assert "committee" not in register or lang == "en"  # en: "Residents' committee"
        history = text_of(li.get(f"/observation/household/24-2003?lang={lang}").text)
        assert who in history and "root@shell" not in history
    assert '<option value="committee" selected>居委会</option>' in \
        li.get("/observation?lang=zh").text  # the member's own team, by name


# --- door tasks after hours --------------------------------------------------------------------

def test_a_team_off_duty_is_told_what_it_handed_over_and_to_whom(site, community, conn):
    clock = shanghai("2026-12-03 10:00")
    rules = Rules.from_config(community)
    label = make_label(community.label_secret, HouseholdId(29, "1004"), "SF2901")  # observed
    task = act_on_payload(label.encode(), SqliteUnitOfWork(conn), rules, clock).door_task
    site.config["CLOCK"] = clock
    li = signed_in(site, "li")
    assert "handed-over" not in li.get("/tasks").text  # on duty: its own task, nothing to say
    clock.current = shanghai("2026-12-03 21:35").current
    hand_over_due(SqliteUnitOfWork(conn), rules, clock)
    zh = li.get("/tasks?lang=zh").text
    said = text_of(zh[zh.index('class="handed-over"'):].split("</section>")[0])
    assert "居委会已下班（值班时间 08:30-17:30）。 1 个任务已交给物业：" in said
    assert "29-1004" in said and "21:35 交出" in said
    assert f'href="/tasks/{task.id}"' in zh
    en = text_of(li.get("/tasks?lang=en").text)
    assert "Residents' committee is off duty now (on duty 08:30-17:30)." in en
    assert "1 task(s) handed over to Property company:" in en
    zhang = signed_in(site, "zhang").get("/tasks").text  # the property company holds it
    assert 'class="handed-over"' not in zhang and f'data-task="{task.id}"' in zhang


# --- accounts ----------------------------------------------------------------------------------

def test_a_new_account_is_read_only_unless_chosen_and_disabling_asks_first(site, conn):
    admin = signed_in(site)
    page = admin.get("/admin/users").text
    form = page[page.index('class="add-account"'):]
    assert re.search(r'<option value="gate" selected>', form)
    assert form.count(" selected>") == 1
    header = page[page.index("<thead>"):page.index("</thead>")]
    assert "<th scope=\"col\"></th>" not in header and "操作" in header
    asked = admin.get("/admin/users/li/disable")  # what the 停用 link opens
    assert asked.status_code == 200 and "停用账号 li？" in text_of(asked.text)
    assert 'action="/admin/users/li/disable"' in asked.text
    disabled = conn.execute("SELECT disabled FROM staff WHERE username = 'li'").fetchone()[0]
    assert disabled == 0  # asking changed nothing
    assert admin.get("/admin/users/nobody/disable").status_code == 404
