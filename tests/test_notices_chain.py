"""A notice down its household's chain of contacts, claimed with a lease, through a real local
receiver (SMS webhook, WeCom bot) and the mail catcher, on the fake clock: the order of the
fallback, an outage of an hour, a chain that gives up, a household nobody can reach, and what
the team's group chat is told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import check_in
from test_channels import with_channels
from test_follow_web import text_of
from test_notices import MailServer
from test_tasks import observe, scan, shanghai
from test_web import AuthActions

from kiosk.app.sim.receiver import Receiver
from kiosk.config import Config
from kiosk.notices.delivery import CONTACT_ATTEMPTS, DeliveryReport, build_channels, deliver_due
from kiosk.queries import attention, failed_notices
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import hand_over_due
from web import create_app

GAO = "15-1205"  # two phones, 13800001205 then 13700005021, and an e-mail address
LIN = "13-1102"  # a phone, no e-mail address


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def mail():
    with MailServer() as server:
        yield server


def sms_then_mail(community: Config, http: Receiver, mail: MailServer) -> Config:
    """SMS through a gateway's webhook first, then e-mail: the order a committee wrote."""
    return with_channels(community, f"""
[[channels]]
type = "webhook"
id = "sms"
url = "{http.url}/sms"
timeout_seconds = 60  # a busy machine's local gateway answers late, yet answers

[[channels]]
type = "email"
host = "127.0.0.1"
port = {mail.port}
from = "shelf@sample-garden.example"
""")


def deliver(conn, config: Config, clock, **options) -> DeliveryReport:
    return deliver_due(SqliteUnitOfWork(conn), build_channels(config.channels), clock,
                       timezone=config.community.timezone, **options)


def row_of(conn, parcel: int):
    [row] = conn.execute("SELECT * FROM outbox WHERE parcel_id = ?", (parcel,)).fetchall()
    return row


def until_settled(conn, config: Config, clock, parcel: int, **options) -> list[tuple]:
    """Run passes, the clock jumping to each retry, until the notice is sent or gives up;
    the (channel, recipient, minutes since the first) of every attempt."""
    first, tried = clock.now(), []
    while True:
        row = row_of(conn, parcel)
        minutes = (clock.now() - first) / timedelta(minutes=1)
        tried.append((row["channel"], row["recipient"], minutes))
        deliver(conn, config, clock, **options)
        row = row_of(conn, parcel)
        if row["status"] != "pending":
            return tried
        clock.current = max(clock.now(), datetime.fromisoformat(row["next_attempt_at"]))


def test_a_notice_goes_to_the_first_contact_then_falls_back_in_order_of_preference(
        community, conn, clock, http, mail):
    config = sms_then_mail(community, http, mail)
    http.answer("fail")  # the SMS gateway is broken; mail works
    parcel = check_in(conn, config, clock, GAO)

    tried = until_settled(conn, config, clock, parcel.parcel)

    phones = [r.json["mobile"] for r in http.requests]
    assert phones == ["13800001205"] * CONTACT_ATTEMPTS + ["13700005021"] * CONTACT_ATTEMPTS
    assert [m["To"] for m in mail.messages] == ["r15-1205@sample-garden.example"]
    row = row_of(conn, parcel.parcel)
    assert (row["status"], row["channel"], row["attempts"]) == ("sent", "email",
                                                                2 * CONTACT_ATTEMPTS + 1)
    # About half an hour on each phone before the next contact is tried.
    second = next(minutes for channel, to, minutes in tried if to == "13700005021")
    by_mail = next(minutes for channel, to, minutes in tried if channel == "email")
    assert 30 <= second < 35 and 60 <= by_mail < 70
    assert json.loads(row["contacts"]) == [["sms", "13800001205"], ["sms", "13700005021"],
                                           ["email", "r15-1205@sample-garden.example"]]


def test_the_first_contact_that_accepts_it_is_the_only_one_told(community, conn, clock, http,
                                                                 mail):
    config = sms_then_mail(community, http, mail)
    parcel = check_in(conn, config, clock, GAO)

    assert deliver(conn, config, clock) == DeliveryReport(sent=1)

    [request] = http.requests
    assert request.json["mobile"] == "13800001205"
    assert "取件码" in request.json["content"]
    assert mail.messages == []
    assert row_of(conn, parcel.parcel)["status"] == "sent"


def test_a_chain_that_is_spent_gives_up_and_shows_on_the_staff_site_s_exceptions(
        community, conn, clock, http, mail):
    config = sms_then_mail(community, http, mail)
    http.answer("fail")
    mail.stop()
    parcel = check_in(conn, config, clock, GAO)

    tried = until_settled(conn, config, clock, parcel.parcel, contact_attempts=2,
                          max_attempts=3)

    assert [to for _, to, _ in tried] == ["13800001205"] * 2 + ["13700005021"] * 2 + [
        "r15-1205@sample-garden.example"] * 3
    [event] = conn.execute("SELECT detail FROM events WHERE kind = 'notice_failed'").fetchall()
    detail = json.loads(event["detail"])
    assert (detail["channel"], detail["attempts"], detail["contacts"]) == ("email", 7, 3)
    assert attention(conn, clock.now() - timedelta(days=1), "OVERFLOW")["failed_notices"] == 1
    [listed] = failed_notices(conn)
    assert (listed["household"], listed["parcel"]) == (GAO, parcel.parcel)

    client = create_app(config, clock=clock).test_client()
    AuthActions(client).login()
    page = client.get("/exceptions?lang=en").text
    failed = page[page.index('id="exc-failed"'):page.index('id="exc-overflow"')]
    assert 'href="/notices/failed"' in failed and '<span class="count">1</span>' in failed

    # Sent again from the staff site: from the first contact of the chain, which works now.
    http.answer("ok")
    token = AuthActions(client).csrf("/notices/failed")
    assert client.post("/notices/retry", data={"csrf_token": token, "all": "1"}).status_code == 302
    assert row_of(conn, parcel.parcel)["recipient"] == "13800001205"
    assert deliver(conn, config, clock) == DeliveryReport(sent=1)


def test_a_household_no_contact_reaches_is_an_exception_at_check_in_time(
        community, conn, clock, http, mail):
    by_mail = check_in(conn, community, clock, LIN)  # mail only: Lin has no e-mail address
    config = sms_then_mail(community, http, mail)
    by_sms = check_in(conn, config, clock, LIN, "SF-LIN-2")  # with SMS, its phone is a contact

    found = attention(conn, clock.now() - timedelta(days=1), "OVERFLOW")
    assert [p["id"] for p in found["unreachable"]] == [by_mail.parcel]
    client = create_app(config, clock=clock).test_client()
    AuthActions(client).login()
    page = client.get("/exceptions?lang=en").text
    unreachable = page[page.index('id="exc-unreachable"'):page.index('id="exc-failed"')]
    assert f'data-parcel="{by_mail.parcel}"' in unreachable
    assert f'data-parcel="{by_sms.parcel}"' not in unreachable
    assert row_of(conn, by_sms.parcel)["recipient"] == "13910256129"


def test_a_claimed_notice_is_left_alone_until_its_lease_runs_out(community, conn, clock, http,
                                                                 mail):
    config = sms_then_mail(community, http, mail)
    parcel = check_in(conn, config, clock, LIN)
    crashed = SqliteUnitOfWork(conn)
    with crashed:  # a worker claims the notice, then dies before it can say what happened
        assert crashed.outbox.claim(clock.now(), "dead-worker", clock.now() + timedelta(
            minutes=5)).id == row_of(conn, parcel.parcel)["id"]

    assert deliver(conn, config, clock) == DeliveryReport()  # another worker leaves it alone
    clock.advance(299)
    assert deliver(conn, config, clock) == DeliveryReport()
    clock.advance(1)  # the lease has run out: taken up and sent
    assert deliver(conn, config, clock) == DeliveryReport(sent=1)
    assert len(http.requests) == 1
    # The dead worker's late word changes nothing: the notice was sent.
    with crashed:
        assert not crashed.outbox.mark_failed(row_of(conn, parcel.parcel)["id"], "late",
                                              clock.now(), worker="dead-worker")
    assert row_of(conn, parcel.parcel)["status"] == "sent"


def test_a_gateway_down_for_an_hour_loses_no_notice(community, conn, clock, http, mail):
    config = sms_then_mail(community, http, mail)
    households = [GAO, LIN, "24-2304", "2-902", "4-1104", "3-301"]
    parcels = {h: check_in(conn, config, clock, h).parcel for h in households}
    mail.stop()
    http.stop()  # the gateway is down (and the mail relay) for an hour
    start = clock.now()
    while clock.now() - start < timedelta(hours=1):
        deliver(conn, config, clock)  # the worker's passes, every 30 s
        clock.advance(30)
    assert http.requests == [] and mail.messages == []
    http.start()
    mail.start()
    for _ in range(200):  # back: everything goes out within the next half hour
        deliver(conn, config, clock)
        clock.advance(30)
        if all(row_of(conn, p)["status"] == "sent" for p in parcels.values()):
            break
    assert clock.now() - start < timedelta(hours=1, minutes=31)

    rows = {h: row_of(conn, p) for h, p in parcels.items()}
    assert {h: r["status"] for h, r in rows.items()} == dict.fromkeys(households, "sent")
    told = [r.json["mobile"] for r in http.requests] + [m["To"] for m in mail.messages]
    assert sorted(told) == sorted(r["recipient"] for r in rows.values())  # each once
    assert len(told) == len(households)


def test_the_team_s_group_chat_hears_of_fresh_food_escalations_and_handovers_without_names(
        community, conn, http):
    config = with_channels(community, f"""
[[channels]]
type = "wecom"
api_base = "{http.url}"

[[channels]]
type = "email"
from = "shelf@sample-garden.example"
""", team_notify='{ channel = "wecom", to = "PROPERTY-BOT" }')
    rules = Rules.from_config(config)
    uow = SqliteUnitOfWork(conn)
    clock = shanghai("2026-12-03 17:00")  # the committee's hours end at 17:30
    observe(conn, "24-2304")
    observe(conn, "29-1004")
    scan(config, uow, rules, clock, "29-1004", "C1")
    clock.advance(60)
    scan(config, uow, rules, clock, "24-2304", "TG1", fresh=True)  # the property team's
    clock.current = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)  # 17:31: handed over to property
    hand_over_due(uow, rules, clock)
    clock.advance(3600)
    hand_over_due(uow, rules, clock)  # the fresh food still waits: escalated
    deliver(conn, config, clock)

    texts = [r.json["text"]["content"] for r in http.requests]
    assert {r.query["key"][0] for r in http.requests} == {"PROPERTY-BOT"}
    assert [t.split("】")[0] for t in texts] == ["【生鲜优先", "【任务交接", "【催办"]
    assert ["Fresh food first" in texts[0], "Handed over" in texts[1],
            "Still waiting" in texts[2]] == [True, True, True]
    assert "24-2304" in texts[0] and "29-1004" in texts[1] and "24-2304" in texts[2]
    people = conn.execute("SELECT name, phone, email FROM households WHERE id IN "
                          "('24-2304', '29-1004')").fetchall()
    for text in texts:
        for person in people:
            for fact in (person["name"], *person["phone"].split(";"), person["email"]):
                assert not fact or fact not in text
        assert "陈杰" not in text and "Chen" not in text



def fell_back(conn, parcel: int) -> list[dict]:
    """The ``notice_fell_back`` events of a parcel, oldest first: their columns and detail."""
    rows = conn.execute("SELECT actor, parcel_id, household_id, detail FROM events"
                        " WHERE kind = 'notice_fell_back' AND parcel_id = ? ORDER BY id",
                        (parcel,)).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def test_each_move_to_the_next_contact_is_recorded_once_with_channel_ids_only(
        community, conn, clock, http, mail):
    config = sms_then_mail(community, http, mail)
    http.answer("fail")  # both phones fail; mail works
    parcel = check_in(conn, config, clock, GAO)

    until_settled(conn, config, clock, parcel.parcel, contact_attempts=2)

    events = fell_back(conn, parcel.parcel)
    notice = row_of(conn, parcel.parcel)["id"]
    assert [(e["detail"]["from"], e["detail"]["to"]) for e in events] == [("sms", "sms"),
                                                                          ("sms", "email")]
    for event in events:
        assert (event["actor"], event["parcel_id"], event["household_id"]) == ("system",
                                                                             parcel.parcel, GAO)
        detail = event["detail"]
        assert (detail["notice"], detail["notice_kind"], detail["attempts"]) == (
            notice, "pickup_ready", 2)
        assert detail["error"]
        stored = json.dumps(detail, ensure_ascii=False)
        for contact in ("13800001205", "13700005021", "r15-1205@sample-garden.example"):
            assert contact not in stored
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'notice_failed'"
                        ).fetchone()[0] == 0


def test_the_parcel_page_says_the_notice_fell_back_in_both_languages(
        community, conn, clock, http, mail):
    config = sms_then_mail(community, http, mail)
    http.answer("fail")
    parcel = check_in(conn, config, clock, GAO)
    until_settled(conn, config, clock, parcel.parcel, contact_attempts=2)

    client = create_app(config, clock=clock).test_client()
    AuthActions(client).login()
    en = text_of(client.get(f"/parcels/{parcel.parcel}?lang=en").text)
    zh = text_of(client.get(f"/parcels/{parcel.parcel}?lang=zh").text)

    assert en.count("SMS failed for the pickup notice (2 attempts): now trying the next "
                    "contact, by SMS") == 1
    assert en.count("SMS failed for the pickup notice (2 attempts): now trying the next "
                    "contact, by email") == 1
    assert zh.count("短信发送取件通知失败（2 次），已改用下一个联系方式：短信") == 1
    assert zh.count("短信发送取件通知失败（2 次），已改用下一个联系方式：邮件") == 1
    for contact in ("13800001205", "13700005021"):
        assert contact not in en and contact not in zh
