"""What the teams' group chats hear of door tasks through the notice worker's pass: the new
tasks in one list per team and pass (not one message per parcel), each task once, only while
the team is on duty; through the real local receiver (a WeCom bot), on SHELF_NOW."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import check_in
from test_channels import with_channels
from test_tasks import observe, scan, shanghai

from kiosk.app.sim.receiver import Receiver
from kiosk.config import Config
from kiosk.notices.delivery import DeliveryReport, build_channels, deliver_due, delivery_limits
from kiosk.notices.reminders import remind_due
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import hand_over_due, tell_new_tasks

BOT = "/cgi-bin/webhook/send"
ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


def with_bots(community: Config, http: Receiver) -> Config:
    """Households by SMS (a gateway's webhook); each team's group chat by its WeCom bot."""
    path = Path(community.path)
    path.write_text(path.read_text().replace(
        'notify = [{ channel = "email", to = "committee@sample-garden.example" }]',
        'notify = [{ channel = "wecom", to = "COMMITTEE-BOT" }]'))
    return with_channels(community, f"""
[[channels]]
type = "webhook"
id = "sms"
url = "{http.url}/sms"
timeout_seconds = 60

[[channels]]
type = "wecom"
api_base = "{http.url}"
timeout_seconds = 60
""", team_notify='{ channel = "wecom", to = "PROPERTY-BOT" }')


def worker_pass(config: Config, now: str) -> None:
    """One pass of ``shelf notices`` (handovers, new tasks, reminders, then the sending)."""
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           "notices", "--once"], capture_output=True, text=True,
                          env={**ENV, "SHELF_NOW": now}, timeout=60)
    assert done.returncode == 0, done.stderr


def chat(http: Receiver) -> list[tuple[str, str]]:
    """What the group chats were told: (bot key, text), in order."""
    return [(r.query["key"][0], r.json["text"]["content"]) for r in http.requests
            if r.path == BOT]


def test_new_door_tasks_reach_the_team_s_chat_in_one_list_per_pass_each_once(community, conn,
                                                                              http):
    config = with_bots(community, http)
    rules, uow = Rules.from_config(config), SqliteUnitOfWork(conn)
    for household in ("24-2304", "15-1205", "13-1102", "2-902"):
        observe(conn, household)
    clock = shanghai("2026-12-03 08:00")  # the morning's delivery: all for the property team
    scan(config, uow, rules, clock, "24-2304", "M1")
    scan(config, uow, rules, clock, "24-2304", "M2")
    scan(config, uow, rules, clock, "15-1205", "M3")
    scan(config, uow, rules, clock, "13-1102", "M4", fresh=True)  # told at once, as fresh
    scan(config, uow, rules, clock, "29-1004", "M5")  # the committee's building, before 08:30

    worker_pass(config, "2026-12-03T08:05:00+08:00")

    told = chat(http)
    assert [text.split("】")[0] for _, text in told] == ["【生鲜优先", "【新任务"]
    assert {key for key, _ in told} == {"PROPERTY-BOT"}
    listed = told[1][1]
    assert "New door tasks" in listed and "有新的送货上门任务" in listed
    assert "3 个送货上门任务" in listed and "3 door task(s)" in listed
    assert (listed.index("24-2304 · 2 件") < listed.index("15-1205 · 1 件")
            < listed.index("29-1004 · 1 件"))
    assert "13-1102" not in listed  # told as fresh food already

    # Another parcel joins a task told already; nothing new: the chat hears nothing more.
    clock.advance(600)
    scan(config, uow, rules, clock, "24-2304", "M6")
    worker_pass(config, "2026-12-03T08:11:00+08:00")
    assert len(chat(http)) == 2

    # A new task later: a list of that one alone.
    scan(config, uow, rules, clock, "2-902", "M7")
    worker_pass(config, "2026-12-03T08:12:00+08:00")
    worker_pass(config, "2026-12-03T08:13:00+08:00")
    told = chat(http)
    assert len(told) == 3 and told[2][0] == "PROPERTY-BOT"
    assert "2-902 · 1 件" in told[2][1] and "1 个送货上门任务" in told[2][1]
    assert "24-2304" not in told[2][1] and "29-1004" not in told[2][1]


def test_the_team_s_chat_never_sees_names_phones_or_addresses(community, conn, http):
    config = with_bots(community, http)
    rules, uow = Rules.from_config(config), SqliteUnitOfWork(conn)
    for household in ("24-2304", "15-1205"):
        observe(conn, household)
    clock = shanghai("2026-12-03 09:00")
    scan(config, uow, rules, clock, "24-2304", "N1")
    scan(config, uow, rules, clock, "15-1205", "N2")
    scan(config, uow, rules, clock, "29-1004", "N3")  # the committee's, on duty now

    worker_pass(config, "2026-12-03T09:01:00+08:00")

    told = dict(chat(http))
    assert set(told) == {"PROPERTY-BOT", "COMMITTEE-BOT"}  # one list to each team
    assert "29-1004" in told["COMMITTEE-BOT"] and "29-1004" not in told["PROPERTY-BOT"]
    people = conn.execute("SELECT name, phone, email FROM households WHERE id IN "
                          "('24-2304', '15-1205', '29-1004')").fetchall()
    for text in told.values():
        for person in people:
            for fact in (person["name"], *person["phone"].split(";"), person["email"]):
                assert not fact or fact not in text
        assert "陈杰" not in text and "Chen" not in text


def test_a_team_off_duty_is_told_by_its_handover_not_by_a_list_after_hours(community, conn,
                                                                           http):
    config = with_bots(community, http)
    rules, uow = Rules.from_config(config), SqliteUnitOfWork(conn)
    clock = shanghai("2026-12-03 17:29")  # the committee's hours end at 17:30
    scan(config, uow, rules, clock, "29-1004", "E1")
    clock.current = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)  # 17:31, no pass in between

    assert tell_new_tasks(uow, rules, clock) == {}  # the committee has gone home
    hand_over_due(uow, rules, clock)  # the property team hears of it as handed over
    assert tell_new_tasks(uow, rules, clock) == {}  # and not again as new
    reasons = [r["payload"] for r in conn.execute(
        "SELECT payload FROM outbox WHERE kind = 'team_tasks'")]
    assert len(reasons) == 1 and '"reason": "handover"' in reasons[0]


# --- quiet hours hold reminders' retries -------------------------------------------------------

LIN, WU = "13-1102", "2-902"  # one phone each: 13910256129, 13953753544


def test_a_reminder_failing_before_22_00_is_retried_after_07_00_not_at_night(community, conn,
                                                                              http):
    config = with_bots(community, http)
    rules = Rules.from_config(config)
    clock = shanghai("2026-12-02 21:00")
    check_in(conn, config, clock, LIN, "Q1")  # waits a day: reminded at 21:50 the next day
    clock.current = datetime.fromisoformat("2026-12-03T21:50:00+08:00")
    conn.execute("UPDATE outbox SET status = 'sent'")  # yesterday's pickup notice went out
    assert remind_due(SqliteUnitOfWork(conn), rules, config.notices, clock).reminded == 1
    check_in(conn, config, clock, WU, "Q2")  # a pickup notice: never held back
    http.answer("fail")  # the gateway is down from 21:50 to 23:00

    sent_at: dict[str, list[str]] = {}
    limits = delivery_limits(config.notices)
    while clock.now() < datetime.fromisoformat("2026-12-04T08:00:00+08:00"):
        if clock.now() >= datetime.fromisoformat("2026-12-03T23:00:00+08:00"):
            http.answer("ok")
        before = len(http.requests)
        deliver_due(SqliteUnitOfWork(conn), build_channels(config.channels), clock,
                    timezone=config.community.timezone, **limits)
        for request in http.requests[before:]:
            local = clock.now().astimezone(config.community.timezone)
            sent_at.setdefault(request.json["mobile"], []).append(f"{local:%H:%M}")
        clock.advance(60)

    reminder, pickup = sent_at["13910256129"], sent_at["13953753544"]
    assert all("07:00" <= t < "22:00" for t in reminder), reminder  # never in quiet hours
    assert reminder[-1] == "07:00" and reminder[0] == "21:50"
    assert any("22:00" <= t < "23:59" for t in pickup)  # retried at night, as before
    assert "取件码" in http.requests[-1].json["content"]  # the reminder went, at 07:00
    statuses = {r["kind"]: r["status"] for r in conn.execute("SELECT kind, status FROM outbox")}
    assert statuses == {"pickup_ready": "sent", "reminder": "sent"}


def test_a_reminder_due_in_the_quiet_hours_is_put_back_unsent_until_they_end(community, conn,
                                                                             http):
    config = with_bots(community, http)
    rules = Rules.from_config(config)
    clock = shanghai("2026-12-02 21:00")
    check_in(conn, config, clock, LIN, "Q3")
    conn.execute("UPDATE outbox SET status = 'sent'")
    clock.current = datetime.fromisoformat("2026-12-03T21:59:00+08:00")
    remind_due(SqliteUnitOfWork(conn), rules, config.notices, clock)
    clock.advance(120)  # the worker was busy: its first pass comes at 22:01

    report = deliver_due(SqliteUnitOfWork(conn), build_channels(config.channels), clock,
                         timezone=config.community.timezone, **delivery_limits(config.notices))

    assert report == DeliveryReport() and http.requests == []
    [row] = conn.execute("SELECT * FROM outbox WHERE kind = 'reminder'").fetchall()
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("pending", 0, None)
    assert datetime.fromisoformat(row["next_attempt_at"]) == datetime.fromisoformat(
        "2026-12-04T07:00:00+08:00")
