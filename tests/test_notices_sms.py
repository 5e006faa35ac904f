"""A text message is one short SMS in the community's language, not the mail's words cut at 500
characters: through the real local receiver (an SMS gateway's JSON webhook, Apprise's json://),
from check-in to the gateway."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import check_in
from test_channels import with_channels

from kiosk.app.sim.receiver import Receiver
from kiosk.config import Config, load_config
from kiosk.notices.delivery import DeliveryReport, build_channels, deliver_due
from kiosk.store import SqliteUnitOfWork

LIN = "13-1102"  # one phone, 13910256129, no e-mail address
SMS_LIMIT = 70  # characters of one Chinese SMS (UCS-2); a longer text is billed as several


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


def by_sms(community: Config, http: Receiver, *, language: str = "zh",
           apprise: bool = False) -> Config:
    path = Path(community.path)
    path.write_text(path.read_text().replace('language = "zh"', f'language = "{language}"'))
    channel = (f'type = "apprise"\nid = "sms"\naddress = "phone"\n'
               f'urls = ["json://127.0.0.1:{http.port}/sms/{{to}}"]' if apprise else
               f'type = "webhook"\nid = "sms"\nurl = "{http.url}/sms"\ntimeout_seconds = 60')
    # The teams' mail stays; Lin has no e-mail address: the SMS is its one contact.
    with_channels(community, f"[[channels]]\n{channel}\n\n[[channels]]\ntype = \"email\"\n"
                             'from = "shelf@sample-garden.example"\n')
    return load_config(path)


def sent_one(conn, config: Config, clock) -> dict:
    report = deliver_due(SqliteUnitOfWork(conn), build_channels(config.channels), clock,
                         timezone=config.community.timezone, language=config.community.language)
    assert report == DeliveryReport(sent=1)
    [row] = conn.execute("SELECT payload FROM outbox").fetchall()
    return json.loads(row["payload"])


def test_a_pickup_sms_is_one_short_text_with_slot_code_and_keep_until(community, conn, clock,
                                                                      http):
    config = by_sms(community, http)
    check_in(conn, config, clock, LIN)
    facts = sent_one(conn, config, clock)

    [request] = http.requests
    text = request.json["content"]
    assert len(text) <= SMS_LIMIT, text
    assert text.startswith("【示例花园】")
    assert f"取件码 {facts['pickup_code']}" in text and f"货位 {facts['slot']}" in text
    until = datetime.fromisoformat(facts["keep_until"]).astimezone(config.community.timezone)
    assert until - clock.now() == timedelta(days=7)  # the sample's [pickup] return_after_days
    assert text.endswith(f"保留至{until.month}月{until.day}日。")
    assert "Pickup" not in text and "|" not in text  # one language, no subject line


def test_an_english_first_community_s_sms_is_in_english(community, conn, clock, http):
    config = by_sms(community, http, language="en")
    check_in(conn, config, clock, LIN)
    facts = sent_one(conn, config, clock)

    text = http.requests[0].json["content"]
    assert text.startswith("[Sample Garden] ")
    assert f"Pickup code {facts['pickup_code']}, slot {facts['slot']}" in text
    until = datetime.fromisoformat(facts["keep_until"]).astimezone(config.community.timezone)
    assert text.endswith(f", kept until {until.day} {until:%b}.")
    assert len(text) <= 160 and not re.search(r"[\u4e00-\u9fff]", text)


def test_apprise_to_a_phone_sends_the_short_text_without_the_qr(community, conn, clock, http):
    config = by_sms(community, http, apprise=True)
    check_in(conn, config, clock, LIN)
    facts = sent_one(conn, config, clock)

    [request] = http.requests
    assert request.path == "/sms/13910256129"
    text = request.json["message"]
    assert len(text) <= SMS_LIMIT and f"取件码 {facts['pickup_code']}" in text
    assert not request.json.get("attachments")  # the QR goes by mail, not by SMS
