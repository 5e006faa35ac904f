"""What residents are told, and when: the pickup notice's layout, "collected", reminders, the
return warning, quiet hours and fresh food; every kind's Chinese half in Chinese alone.

Through the real SMTP mail catcher and the real services on a real SQLite file; time is the
tests' clock (the notice worker's pass is ``remind_due`` then ``deliver_due``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from pyzbar.pyzbar import decode

from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.clock import ManualClock
from kiosk.config import Config, NoticeSettings, load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.notices.delivery import build_channels, deliver_due
from kiosk.notices.reminders import is_quiet, remind_due
from kiosk.notices.render import render, words
from kiosk.services import Rules, act_on_carrier, act_on_payload, pick_up
from kiosk.staff_actions import hand_out, mark_returned, move, undo_check_in
from kiosk.store import SqliteUnitOfWork, connect
from kiosk.tasks import deliver, mark_fresh

RESIDENT = "24-2304"  # Chen Jie 陈杰, slot A-12, collects at the shelf
RESIDENT_EMAIL = "r24-2304@sample-garden.example"
OBSERVED = "4-1702"  # under home observation: staff carry its parcels to the door
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def mail():
    with MailCatcher() as server:
        yield server


@pytest.fixture
def channels(community: Config, mail: MailCatcher):
    moved = tuple(replace(c, options={**c.options, "host": "127.0.0.1", "port": mail.port})
                  for c in community.channels)
    return build_channels(moved)


def at_local(text: str, zone: ZoneInfo = SHANGHAI) -> ManualClock:
    """A clock showing ``text`` on the community's wall-clock."""
    return ManualClock(datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC))


def check_in(conn, config: Config, clock, household: str = RESIDENT, *, fresh: bool = False):
    label = make_label(config.label_secret, HouseholdId.parse(household), fresh=fresh)
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config),
                            clock)
    assert result.action == "checkin", result
    return result


def worker_pass(conn, config: Config, channels, clock) -> None:
    """One pass of ``shelf notices``: the reminders due, then the outbox."""
    remind_due(SqliteUnitOfWork(conn), Rules.from_config(config), config.notices, clock)
    deliver_due(SqliteUnitOfWork(conn), channels, clock, timezone=config.community.timezone)


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def heads(mail: MailCatcher) -> list[str]:
    """Each mail's kind, as the resident sees it first: the subject's 【head】."""
    return [m["Subject"].split("】")[0].lstrip("【") for m in mail.messages]


def qr_payloads(png: bytes) -> list[str]:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [symbol.data.decode() for symbol in decode(image)]


# --- the pickup notice -------------------------------------------------------------------------

def test_pickup_notice_leads_with_slot_and_code_and_shows_its_qr_inside_the_html(
        conn, community, clock, mail, channels):
    parcel = check_in(conn, community, clock)
    worker_pass(conn, community, channels, clock)

    [message] = mail.messages
    facts = json.loads(conn.execute("SELECT payload FROM outbox").fetchone()[0])
    code = facts["pickup_code"]
    lines = text(message).splitlines()
    assert lines[:2] == ["货位：A-12（门岗A架）", f"取件码：{code}"]
    # Kept 7 days ([pickup] return_after_days): checked in Sunday 29 Nov, kept until 6 Dec.
    assert "保管至：12月6日（周日），逾期未取将退回快递员。" in lines
    assert "Kept until: Sun 6 Dec 2026; then it goes back to the courier." in lines
    assert "Slot: A-12 (Gate shelf A)" in lines and f"Pickup code: {code}" in lines

    html = message.get_body(("html",))
    page = html.get_content()
    cid = re.search(r'<img src="cid:([^"]+)"', page)[1]
    assert re.search(rf'font-size:28px[^>]*>货位：A-12（门岗A架）</p><p [^>]*font-size:28px'
                     rf'[^>]*>取件码：{code}</p>', page)
    # The image the cid names travels with the HTML (multipart/related), and opens the slot.
    related = [p for p in message.walk() if p.get("Content-ID") == f"<{cid}>"]
    assert [p.get_content_type() for p in related] == ["image/png"]
    assert qr_payloads(related[0].get_content()) == [facts["pickup_qr"]]
    assert [a.get_content_type() for a in message.iter_attachments()] == ["image/png"]
    pickup = act_on_payload(facts["pickup_qr"].encode(), SqliteUnitOfWork(conn),
                            Rules.from_config(community), clock)
    assert pickup.parcels == (parcel.parcel,)


def test_fresh_food_says_so_first_and_goes_at_once_even_in_quiet_hours(
        conn, community, mail, channels):
    clock = at_local("2026-11-29T23:30:00")
    check_in(conn, community, clock, fresh=True)
    worker_pass(conn, community, channels, clock)

    [message] = mail.messages
    assert message["Subject"].startswith("【生鲜 请尽快取】货位 A-12")
    lines = text(message).splitlines()
    assert lines[0] == "这是生鲜食品，请尽快取走。"
    assert lines[1] == "货位：A-12（门岗A架）" and lines[2].startswith("取件码：")


def test_a_parcel_marked_fresh_after_check_in_is_told_at_once_in_quiet_hours(
        conn, community, mail, channels):
    clock = at_local("2026-11-29T23:40:00")
    parcel = check_in(conn, community, clock)
    clock.advance(60)
    mark_fresh(parcel.parcel, SqliteUnitOfWork(conn), Rules.from_config(community), clock,
               actor="gate", source="keypad")
    worker_pass(conn, community, channels, clock)

    assert heads(mail) == ["快递到了", "生鲜 请尽快取"]
    first, fresh = (text(m).splitlines() for m in mail.messages)
    assert fresh[0] == "这是生鲜食品，请尽快取走。"
    assert fresh[1:3] == first[:2]  # the same slot, the same code


# --- collected ---------------------------------------------------------------------------------

def test_collected_arrives_after_a_pickup_with_the_code(conn, community, clock, mail, channels):
    first, second = check_in(conn, community, clock), check_in(conn, community, clock)
    worker_pass(conn, community, channels, clock)
    code = conn.execute("SELECT code FROM pickup_codes WHERE used_at IS NULL").fetchone()[0]
    clock.advance(3600)
    pick_up(code, SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    worker_pass(conn, community, channels, clock)

    assert heads(mail) == ["快递到了", "快递到了", "已取件"]
    collected = mail.messages[-1]
    assert collected["To"] == RESIDENT_EMAIL
    body = text(collected)
    assert "您在示例花园快递架上的 2 件快递已用取件码取走。" in body
    assert "取件时间：2026-11-29 17:00（北京时间）" in body
    assert "Your 2 parcel(s) on the shelf of Sample Garden were collected" in body
    refs = [r[0] for r in conn.execute("SELECT ref FROM parcels WHERE id IN (?, ?)",
                                       (first.parcel, second.parcel))]
    # The shelf's own labels' numbers: not the courier's tracking number (issue 20).
    assert f"住户：24-2304 · 货架标签号：{'、'.join(refs)}" in body and "快递单号" not in body
    assert f"Household: 24-2304 · Shelf label no.: {', '.join(refs)}" in body
    worker_pass(conn, community, channels, clock)
    assert len(mail.messages) == 3  # said once


def test_a_courier_s_tracking_number_is_the_tracking_number_and_the_shelf_s_label_is_not(
        conn, community, clock, mail, channels):
    """A resident looks for the courier's number under 快递单号: only a waybill's is so called."""
    rules = Rules.from_config(community)
    waybill = act_on_carrier("SF1234567890", SqliteUnitOfWork(conn), rules, clock,
                             room="24栋2304室", phone_tail="2304")
    assert waybill.action == "checkin"
    label = check_in(conn, community, clock)
    worker_pass(conn, community, channels, clock)
    [ref] = [r[0] for r in conn.execute("SELECT ref FROM parcels WHERE id = ?", (label.parcel,))]
    first, second = (text(m) for m in mail.messages)
    assert "住户：24-2304 · 快递单号：SF1234567890\n" in first
    assert "Household: 24-2304 · Tracking no.: SF1234567890\n" in first
    assert f"住户：24-2304 · 货架标签号：{ref}\n" in second and "快递单号" not in second

    clock.advance(86400 + 3600)  # a day later: the reminder lists both, each called by its name
    worker_pass(conn, community, channels, clock)
    reminder = text(mail.messages[-1])
    assert heads(mail)[-1] == "待取提醒"
    assert "· 快递单号：SF1234567890\n" in reminder and f"· 货架标签号：{ref}\n" in reminder
    assert f"住户：24-2304 · 快递单号：SF1234567890 · 货架标签号：{ref}\n" in reminder
    assert "· Tracking no.: SF1234567890\n" in reminder


def test_staff_hand_out_and_door_delivery_are_not_told_twice(
        conn, community, clock, mail, channels):
    parcel = check_in(conn, community, clock)
    rules = Rules.from_config(community)
    hand_out(parcel.parcel, SqliteUnitOfWork(conn), rules, clock, actor="alice",
             reason="grandmother, ID checked", id_checked=True)
    check_in(conn, community, clock, OBSERVED)
    task = conn.execute("SELECT id FROM door_tasks").fetchone()[0]
    deliver(task, OBSERVED, SqliteUnitOfWork(conn), rules, clock, actor="bob")
    worker_pass(conn, community, channels, clock)

    to_households = [h for m, h in zip(mail.messages, heads(mail), strict=True)
                     if m["To"].startswith("r")]
    assert to_households == ["快递到了", "已由工作人员交付", "快递到了", "已送到门口"]


# --- reminders and the return warning ----------------------------------------------------------

def test_reminders_after_one_and_three_days_and_never_twice_even_after_a_restart(
        conn, community, clock, mail, channels):
    check_in(conn, community, clock)  # Sunday 16:00 in Shanghai
    worker_pass(conn, community, channels, clock)
    clock.advance(timedelta(days=1).total_seconds() - 1)
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == ["快递到了"]  # not a day yet

    clock.advance(1)
    worker_pass(conn, community, channels, clock)
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == ["快递到了", "待取提醒"]
    body = text(mail.messages[-1])
    assert body.splitlines()[:2] == ["货位：A-12（门岗A架）",
                                     f"取件码：{_active_code(conn)}"]
    assert "已等候 1 天以上" in body and "保管至 12月6日（周日）" in body

    # The worker restarts (a new connection, as after a crash): the first round is not said again.
    restarted = connect(community.database)
    clock.advance(timedelta(hours=12).total_seconds())
    worker_pass(restarted, community, channels, clock)
    assert len(mail.messages) == 2

    clock.advance(timedelta(days=1, hours=12).total_seconds())  # three days
    worker_pass(restarted, community, channels, clock)
    worker_pass(restarted, community, channels, clock)
    assert heads(mail) == ["快递到了", "待取提醒", "待取提醒"]
    assert "已等候 3 天以上" in text(mail.messages[-1])
    restarted.close()


def test_one_reminder_per_household_lists_all_its_waiting_parcels(
        conn, community, clock, mail, channels):
    check_in(conn, community, clock)
    clock.advance(timedelta(hours=20).total_seconds())
    check_in(conn, community, clock)
    clock.advance(timedelta(hours=5).total_seconds())
    # the first waited a day, the second five hours
    worker_pass(conn, community, channels, clock)

    reminders = [m for m in mail.messages if m["Subject"].startswith("【待取提醒")]
    [reminder] = reminders
    assert reminder["Subject"].startswith("【待取提醒】您有 2 件快递等候取件")
    assert text(reminder).count("· 货位 A-12") == 2


def test_return_warning_names_the_day_the_parcel_goes_back(
        conn, community, clock, mail, channels):
    check_in(conn, community, clock)  # Sunday 29 Nov; kept 7 days: back on Sunday 6 Dec
    clock.advance(timedelta(days=6).total_seconds())
    # the worker was down all week: one notice, not three
    worker_pass(conn, community, channels, clock)
    worker_pass(conn, community, channels, clock)

    assert heads(mail) == ["快递到了", "即将退回"]
    warning = mail.messages[-1]
    assert warning["Subject"].startswith("【即将退回】1 件快递将于12月6日（周日）退回快递员")
    assert "Sun 6 Dec 2026" in warning["Subject"]
    assert "go back to the courier from Sun 6 Dec 2026" in text(warning)
    rounds = {r[0] for r in conn.execute("SELECT round FROM reminders")}
    assert rounds == {"1d", "3d", "return"}


def test_a_parcel_returned_by_staff_gets_no_more_reminders(conn, community, clock, mail,
                                                           channels):
    parcel = check_in(conn, community, clock)
    mark_returned(parcel.parcel, SqliteUnitOfWork(conn), Rules.from_config(community), clock,
                  actor="alice", reason="refused")
    clock.advance(timedelta(days=6).total_seconds())
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == ["快递到了", "已退回快递员"]


# --- quiet hours -------------------------------------------------------------------------------

@pytest.mark.parametrize(("wall_clock", "quiet"), [
    ("21:59:59", False), ("22:00:00", True), ("06:59:59", True), ("07:00:00", False)])
def test_quiet_hours_edges_in_shanghai(conn, community, mail, channels, wall_clock, quiet):
    check_in(conn, community, at_local("2026-11-28T12:00:00"))
    day = "2026-11-29" if wall_clock > "12" else "2026-11-30"
    clock = at_local(f"{day}T{wall_clock}")
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == (["快递到了"] if quiet else ["快递到了", "待取提醒"])


def test_a_reminder_due_in_quiet_hours_goes_when_they_end(conn, community, mail, channels):
    clock = at_local("2026-11-29T23:30:00")
    check_in(conn, community, clock)
    worker_pass(conn, community, channels, clock)
    clock.advance(timedelta(days=1).total_seconds())  # due at 23:30: quiet
    worker_pass(conn, community, channels, clock)
    clock.current = at_local("2026-12-01T06:59:59").now()
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == ["快递到了"]
    clock.advance(1)  # 07:00:00
    worker_pass(conn, community, channels, clock)
    assert heads(mail) == ["快递到了", "待取提醒"]


@pytest.mark.parametrize(("utc", "quiet"), [
    # 29 Mar 2026 in Berlin: clocks go from 02:00 CET to 03:00 CEST inside the quiet hours.
    ("2026-03-28T20:59:59", False), ("2026-03-28T21:00:00", True),  # 21:59:59 / 22:00 CET
    ("2026-03-29T04:59:59", True), ("2026-03-29T05:00:00", False),  # 06:59:59 / 07:00 CEST
    # and back on 25 Oct: 03:00 CEST becomes 02:00 CET.
    ("2026-10-25T05:59:59", True), ("2026-10-25T06:00:00", False),  # 06:59:59 / 07:00 CET
])
def test_quiet_hours_follow_the_wall_clock_across_summer_time(utc, quiet):
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert is_quiet(now, NoticeSettings(), ZoneInfo("Europe/Berlin")) is quiet


@pytest.mark.parametrize(("wall_clock", "quiet"), [
    ("2026-03-29T06:59:59", True), ("2026-03-29T07:00:00", False)])  # the first summer morning
def test_a_community_in_berlin_is_reminded_at_seven_on_its_own_clock(
        conn, community, mail, channels, wall_clock, quiet):
    berlin = ZoneInfo("Europe/Berlin")
    community = replace(community, community=replace(community.community, timezone=berlin))
    check_in(conn, community, at_local("2026-03-27T12:00:00", berlin))
    worker_pass(conn, community, channels, at_local(wall_clock, berlin))
    assert heads(mail) == (["快递到了"] if quiet else ["快递到了", "待取提醒"])
    assert "当地时间 +01:00" in text(mail.messages[0])  # checked in on winter time


def test_quiet_hours_and_rounds_are_configurable(community, tmp_path):
    path = community.path
    written = path.read_text()
    assert "[notices]" in written  # shelf init writes the section, commented
    path.write_text(written.replace("remind_after_days = [1, 3]", "remind_after_days = [2]")
                    .replace("warn_before_return_days = 1", "warn_before_return_days = 0")
                    .replace('quiet_hours = "22:00-07:00"', 'quiet_hours = "23:30-06:00"'))
    settings = load_config(path).notices
    assert settings == NoticeSettings(remind_after_days=(2,), warn_before_return_days=0,
                                      quiet_from=time(23, 30), quiet_until=time(6, 0))
    path.write_text(path.read_text().replace('"23:30-06:00"', '"22:00"'))
    with pytest.raises(Exception, match=r"\[notices\] quiet_hours = '22:00': expected HH:MM"):
        load_config(path)


# --- the words ---------------------------------------------------------------------------------

def test_every_kind_in_chinese_carries_no_latin_word_beyond_its_codes(
        conn, community, clock, mail, channels):
    """Render every kind the store queues, in Chinese: no "到了Sample Garden"."""
    rules = Rules.from_config(community)
    check_in(conn, community, clock, fresh=True)  # pickup_ready
    moved = check_in(conn, community, clock)
    move(moved.parcel, "A-11", SqliteUnitOfWork(conn), rules, clock, actor="a", reason="full")
    gone = check_in(conn, community, clock, "2-902")
    undo_check_in(gone.parcel, SqliteUnitOfWork(conn), rules, clock, actor="a", reason="wrong")
    back = check_in(conn, community, clock, "13-1102")
    mark_returned(back.parcel, SqliteUnitOfWork(conn), rules, clock, actor="a", reason="old")
    out = check_in(conn, community, clock, "13-1102")
    hand_out(out.parcel, SqliteUnitOfWork(conn), rules, clock, actor="a", reason="ID",
             id_checked=True)
    check_in(conn, community, clock, OBSERVED, fresh=True)  # door_delivery, team_tasks
    task = conn.execute("SELECT id FROM door_tasks").fetchone()[0]
    deliver(task, OBSERVED, SqliteUnitOfWork(conn), rules, clock, actor="b")  # door_delivered
    pick_up(_active_code(conn), SqliteUnitOfWork(conn), rules, clock)  # collected
    check_in(conn, community, clock, "2-2603")
    clock.advance(timedelta(days=1).total_seconds())
    remind_due(SqliteUnitOfWork(conn), rules, community.notices, clock)  # reminder
    clock.advance(timedelta(days=5).total_seconds())
    remind_due(SqliteUnitOfWork(conn), rules, community.notices, clock)  # return_warning

    rows = conn.execute("SELECT kind, payload FROM outbox ORDER BY id").fetchall()
    kinds = {r["kind"] for r in rows}
    assert kinds == {"pickup_ready", "door_delivery", "team_tasks", "door_delivered",
                     "parcel_changed", "collected", "reminder", "return_warning"}
    for row in rows:
        facts = json.loads(row["payload"])
        zh = words(row["kind"], facts, "zh", community.community.timezone)
        said = "\n".join((zh.subject, *zh.lead, *zh.lines))
        for carried in _codes(facts):
            said = said.replace(carried, "")
        for shelf in community.layout.shelves:  # a shelf is called by its id: 门岗A架
            said = said.replace(f"{shelf.id}架", "架")
        latin = re.findall(r"[A-Za-z]+", said)
        assert not latin, (row["kind"], latin, said)
        en = words(row["kind"], facts, "en", community.community.timezone)
        english = "\n".join((en.subject, *en.lines)).replace(facts.get("name") or "-", "")
        assert not re.search(r"[\u4e00-\u9fff]", english), (row["kind"], english)
        # The text message: one SMS (70 characters in Chinese), one language each.
        short = render(row["kind"], facts, "-", community.community.timezone, "zh").short
        assert short.startswith("【示例花园】") and len(short) <= 70, (row["kind"], short)
        bare = short
        for carried in _codes(facts):
            bare = bare.replace(carried, "")
        assert not re.findall(r"[A-Za-z]+", bare.replace("A架", "架")), (row["kind"], short)
        english = render(row["kind"], facts, "-", community.community.timezone, "en").short
        english = english.replace(facts.get("name") or "-", "")
        assert english.startswith("[Sample Garden] "), (row["kind"], english)
        assert not re.search(r"[\u4e00-\u9fff]", english), (row["kind"], english)


def _codes(facts) -> list[str]:
    """What a notice carries that is not words: households, refs, slots, codes, ids."""
    found: list[str] = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in ("names", "place", "community", "team_name"):
                    walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and not key.endswith("_at") and key not in (
                "keep_until", "return_on", "at", "action", "reason", "via", "team"):
            found.append(value)
    walk(facts)
    return sorted(found, key=len, reverse=True)


def _active_code(conn) -> str:
    return conn.execute("SELECT code FROM pickup_codes WHERE used_at IS NULL AND revoked_at IS"
                        " NULL ORDER BY id DESC").fetchone()[0]


def test_the_notice_worker_reminds_when_quiet_hours_end(community):
    """``shelf notices --once`` (SHELF_NOW): a reminder due at 23:00 goes at 07:00."""
    from test_cli_tasks import one_json, shelf, with_mail

    with MailCatcher() as mail:
        with_mail(community, mail.port)
        checked = one_json(shelf(community, "checkin", "--code", "SF1234567890", "--room",
                                 "2-2603", "--json", now="2026-12-03T23:00:00+08:00"))
        assert checked["action"] == "checkin", checked
        # 06:30, not 06:59:59: SHELF_NOW runs on, and a busy machine's slow start would carry
        # the command past 07:00 (the second before it is checked with a clock set by hand).
        for now in ("2026-12-03T23:00:00+08:00", "2026-12-04T23:00:00+08:00",
                    "2026-12-05T06:30:00+08:00", "2026-12-05T07:00:00+08:00",
                    "2026-12-05T07:00:05+08:00"):
            done = shelf(community, "notices", "--once", now=now)
            assert done.returncode == 0, done.stderr
            if now.startswith("2026-12-05T06"):
                assert heads(mail) == ["快递到了"]  # the reminder waits out the quiet hours
        mail.wait_for(2)
    assert heads(mail) == ["快递到了", "待取提醒"]
    assert mail.messages[-1]["To"] == "r2-2603@sample-garden.example"
