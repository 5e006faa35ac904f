"""The pickup QR is drawn only for a channel that sends it, and at most once per notice: an SMS
or a group bot never pays for drawing a PNG it does not carry; the e-mail still shows it inline
(``cid:pickup-qr``) and attached, the same image."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import PATIENCE_S, check_in
from test_notices import MailServer, _pointed_at, qr_payloads
from test_notices_sms import LIN, by_sms, sent_one

import kiosk.notices.render
from kiosk.app.sim.receiver import Receiver
from kiosk.channels.apprise_urls import AppriseChannel
from kiosk.channels.dingtalk import DingTalkBotChannel
from kiosk.channels.wecom import WeComBotChannel
from kiosk.notices.delivery import DeliveryReport, build_channels, deliver_due
from kiosk.notices.render import QR_ID, render
from kiosk.store import SqliteUnitOfWork

RESIDENT = "24-2304"  # an e-mail address first in the sample


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def drawn(monkeypatch) -> list[str]:
    """The payloads the notice renderer drew as a QR image, in order (the real drawing)."""
    calls: list[str] = []
    real = kiosk.notices.render.qr_image

    def counting(payload: str, *args, **kwargs) -> bytes:
        calls.append(payload)
        return real(payload, *args, **kwargs)

    monkeypatch.setattr(kiosk.notices.render, "qr_image", counting)
    return calls


def pickup_facts(conn) -> dict:
    [row] = conn.execute("SELECT payload FROM outbox WHERE kind = 'pickup_ready'").fetchall()
    return json.loads(row["payload"])


@pytest.mark.parametrize("apprise", [False, True], ids=["webhook", "apprise-phone"])
def test_a_pickup_sms_goes_out_without_drawing_the_qr(community, conn, clock, http, drawn,
                                                      apprise):
    config = by_sms(community, http, apprise=apprise)
    check_in(conn, config, clock, LIN)
    facts = sent_one(conn, config, clock)

    [request] = http.requests
    text = request.json["message" if apprise else "content"]
    assert f"取件码 {facts['pickup_code']}" in text  # the SMS went out, with the code
    assert drawn == []


@pytest.mark.parametrize("bot", ["wecom", "dingtalk"])
def test_a_bot_sends_a_pickup_notice_as_text_without_drawing_the_qr(community, conn, clock,
                                                                    http, drawn, bot):
    check_in(conn, community, clock, RESIDENT)
    facts = pickup_facts(conn)
    notice = render("pickup_ready", facts, "BOT-KEY-1", community.community.timezone)
    assert [a.inline_id for a in notice.attachments] == [QR_ID]  # the QR is there to take
    channel = (WeComBotChannel("wecom", api_base=http.url, timeout=PATIENCE_S) if bot == "wecom"
               else DingTalkBotChannel("dingtalk", api_base=http.url, timeout=PATIENCE_S))

    channel.send(notice)

    [request] = http.requests
    assert f"取件码 {facts['pickup_code']}" in json.dumps(request.json, ensure_ascii=False)
    assert drawn == []


def test_the_mail_draws_the_qr_once_and_shows_it_inline_and_attached(community, conn, clock,
                                                                     drawn):
    with MailServer() as mail:
        config = _pointed_at(community, mail)
        check_in(conn, config, clock, RESIDENT)
        facts = pickup_facts(conn)
        report = deliver_due(SqliteUnitOfWork(conn), build_channels(config.channels), clock,
                             timezone=config.community.timezone)
        assert report == DeliveryReport(sent=1)
        [message] = mail.messages

    assert drawn == [facts["pickup_qr"]]  # used twice (inline and attached), drawn once
    html = message.get_body(("html",))
    assert f'src="cid:{QR_ID}"' in html.get_content()
    [inline] = [part for part in message.walk() if part["Content-ID"] == f"<{QR_ID}>"]
    [attached] = message.iter_attachments()
    assert inline.get_content() == attached.get_content()
    assert qr_payloads(attached.get_content()) == [facts["pickup_qr"].encode()]


def test_apprise_to_an_e_mail_address_sends_the_qr_it_draws_once(community, conn, clock, http,
                                                                 drawn):
    check_in(conn, community, clock, RESIDENT)
    facts = pickup_facts(conn)
    notice = render("pickup_ready", facts, "r24-2304@sample-garden.example",
                    community.community.timezone)
    channel = AppriseChannel("push", [f"json://127.0.0.1:{http.port}/mail/{{to}}"],
                             address="email")

    channel.send(notice)

    [request] = http.requests
    [sent] = request.json["attachments"]
    assert qr_payloads(base64.b64decode(sent["base64"])) == [facts["pickup_qr"].encode()]
    assert drawn == [facts["pickup_qr"]]
