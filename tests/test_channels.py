"""Each channel type against a real local receiver: an SMS gateway's JSON webhook, WeCom and
DingTalk group bots, Apprise's ntfy and JSON services; their configuration as read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from conftest import PATIENCE_S

from kiosk.app.sim.receiver import Receiver
from kiosk.channels.apprise_urls import AppriseChannel
from kiosk.channels.dingtalk import DingTalkBotChannel
from kiosk.channels.webhook import WebhookChannel
from kiosk.channels.wecom import WeComBotChannel
from kiosk.config import Config, load_config
from kiosk.errors import ConfigError, NoticeError
from kiosk.notices.delivery import build_channels
from kiosk.ports import Attachment, Notice

NOTICE = Notice("13800002304", "【快递到了 Parcel ready】A-12 · 取件码 Pickup code 482913",
                "货位：A-12\n取件码：482913\nSlot: A-12")
TEAM = Notice("BOT-KEY-1", "【生鲜优先 Fresh food first】物业 Property: 1 个送货上门任务",
              "#3 24-2304 · 1 件 parcel(s) · A-12 · 生鲜 FRESH")


@pytest.fixture
def http():
    with Receiver() as receiver:
        yield receiver


def with_channels(community: Config, channels_toml: str, *, team_notify: str = "") -> Config:
    """The community's file with its [[channels]] replaced (and the property team's notify)."""
    path = Path(community.path)
    text = path.read_text()
    text = re.sub(r"\[\[channels\]\][^\[]*", channels_toml.strip() + "\n\n", text, count=1)
    if team_notify:
        mail = '[{ channel = "email", to = "property@sample-garden.example" }]'
        text = text.replace(f"notify = {mail}", f"notify = [{team_notify}]")
    path.write_text(text)
    return load_config(path)


# --- the SMS gateway's JSON webhook ----------------------------------------------------------

def sms(url: str, **options) -> WebhookChannel:
    defaults = {"headers": {"Authorization": "Bearer {token}"}, "token": "T0KEN",
                "body": {"sign": "示例花园", "content": "{text}"}, "phone_field": "to.mobile",
                "ok_field": "code", "ok_values": ["0"], "timeout": PATIENCE_S}
    return WebhookChannel("sms", url, **(defaults | options))


def test_webhook_posts_the_configured_body_with_the_phone_and_the_token(http):
    http.answer_body = {"code": 0, "msg": "sent"}
    sms(f"{http.url}/api/send").send(NOTICE)

    [request] = http.requests
    assert (request.method, request.path) == ("POST", "/api/send")
    assert request.headers["Authorization"] == "Bearer T0KEN"
    assert request.json == {"sign": "示例花园", "to": {"mobile": "13800002304"},
                            "content": f"{NOTICE.subject}\n{NOTICE.body}"}


def test_webhook_takes_its_token_from_the_environment_and_refuses_to_start_without(
        http, monkeypatch):
    http.answer_body = {"code": 0}
    monkeypatch.setenv("SHELF_TEST_SMS_TOKEN", "from-env")
    sms(http.url, token="", token_env="SHELF_TEST_SMS_TOKEN").send(NOTICE)
    assert http.requests[0].headers["Authorization"] == "Bearer from-env"

    monkeypatch.delenv("SHELF_TEST_SMS_TOKEN")
    with pytest.raises(ConfigError, match="SHELF_TEST_SMS_TOKEN is not set"):
        sms(http.url, token="", token_env="SHELF_TEST_SMS_TOKEN")


def test_webhook_fails_on_http_500_on_an_error_code_in_a_200_down_and_hanging(http):
    channel = sms(http.url)
    http.answer("fail")
    with pytest.raises(NoticeError, match="answered HTTP 500"):
        channel.send(NOTICE)
    http.answer("ok")
    http.answer_body = {"code": 1024, "msg": "insufficient balance"}  # HTTP 200, yet refused
    with pytest.raises(NoticeError, match=r"answered code = '1024', not one of \['0'\]"):
        channel.send(NOTICE)
    http.answer("hang")  # no answer ever comes: a second is enough to tell
    with pytest.raises(NoticeError, match="cannot reach http://127.0.0.1:.*timed out"):
        sms(http.url, timeout=1).send(NOTICE)
    http.wait_for(3, timeout=PATIENCE_S)  # the held request arrived, however late
    http.stop()
    with pytest.raises(NoticeError, match="cannot reach http://127.0.0.1:.*refused"):
        channel.send(NOTICE)
    assert len(http.requests) == 3
    assert "T0KEN" not in repr(channel)


def test_webhook_cuts_a_long_text_to_max_chars(http):
    http.answer_body = {"code": 0}
    long = Notice("13800002304", "subject", "字" * 2000)
    sms(http.url, max_chars=70).send(long)
    assert len(http.requests[0].json["content"]) == 70


# --- group bots -------------------------------------------------------------------------------

def test_wecom_bot_posts_text_to_its_key_and_checks_the_errcode(http):
    bot = WeComBotChannel("wecom", api_base=http.url, timeout=PATIENCE_S)
    bot.send(TEAM)

    [request] = http.requests
    assert request.path == "/cgi-bin/webhook/send" and request.query == {"key": ["BOT-KEY-1"]}
    assert request.json == {"msgtype": "text",
                            "text": {"content": f"{TEAM.subject}\n\n{TEAM.body}"}}

    http.answer("errcode")  # HTTP 200, errcode 310000: the bot refused
    with pytest.raises(NoticeError, match="refused the message: errcode 310000"):
        bot.send(TEAM)
    http.answer("fail")
    with pytest.raises(NoticeError, match="answered HTTP 500"):
        bot.send(TEAM)


def test_wecom_bot_cuts_a_message_to_what_the_bot_takes(http):
    WeComBotChannel("wecom", api_base=http.url).send(Notice("K", "s", "任务" * 2000))
    assert len(http.requests[0].json["text"]["content"].encode()) <= 2048


def test_dingtalk_bot_signs_with_its_secret_adds_its_keyword_and_checks_the_errcode(http):
    bot = DingTalkBotChannel("dingtalk", api_base=http.url, secret="SECabc", keyword="快递",
                             timeout=PATIENCE_S)
    bot.send(TEAM)

    [request] = http.requests
    assert request.path == "/robot/send" and request.query["access_token"] == ["BOT-KEY-1"]
    millis = request.query["timestamp"][0]
    expected = hmac.new(b"SECabc", f"{millis}\nSECabc".encode(), hashlib.sha256).digest()
    assert request.query["sign"] == [base64.b64encode(expected).decode()]
    content = request.json["text"]["content"]
    assert request.json["msgtype"] == "text" and content.startswith("快递 【生鲜优先")

    http.answer("errcode")
    with pytest.raises(NoticeError, match="errcode 310000 keywords not in content"):
        bot.send(TEAM)
    assert "SECabc" not in repr(bot)


# --- Apprise ----------------------------------------------------------------------------------

def test_apprise_json_url_gets_the_recipient_and_the_qr(http):
    qr = Attachment("pickup-qr.png", "image/png", b"\x89PNG fake")
    channel = AppriseChannel("push", [f"json://127.0.0.1:{http.port}/sms/{{to}}"],
                             address="phone")
    channel.send(Notice("138 0000 2304", NOTICE.subject, NOTICE.body, (qr,)))

    [request] = http.requests
    assert request.path == "/sms/138%200000%202304"
    assert (request.json["title"], request.json["message"]) == (NOTICE.subject, NOTICE.body)
    [sent] = request.json["attachments"]
    assert base64.b64decode(sent["base64"]) == qr.data


def test_apprise_ntfy_posts_to_the_households_topic_and_says_why_it_failed(http):
    channel = AppriseChannel("ntfy", [f"ntfy://127.0.0.1:{http.port}/shelf-{{to}}"],
                             address="phone", attach=False)
    channel.send(NOTICE)
    [request] = http.requests
    assert request.json["topic"] == "shelf-13800002304"
    assert request.json["message"] == NOTICE.body

    http.answer("fail")
    with pytest.raises(NoticeError, match=r"ntfy: .*(500|Internal Server Error)"):
        channel.send(NOTICE)


# --- configuration ----------------------------------------------------------------------------

def test_each_channel_type_reads_from_the_file_and_builds(community, http):
    config = with_channels(community, f"""
[[channels]]
type = "webhook"
id = "sms"
url = "{http.url}/api/send"
token = "T0KEN"
phone_field = "PhoneNumbers"
ok_field = "Code"
ok_values = ["OK"]
headers = {{ Authorization = "APPCODE {{token}}" }}
body = {{ SignName = "示例花园", TemplateParam = "{{text}}" }}

[[channels]]
type = "wecom"
api_base = "{http.url}/"

[[channels]]
type = "dingtalk"
api_base = "{http.url}"
secret = "SECabc"

[[channels]]
type = "apprise"
id = "ntfy"
urls = ["ntfy://127.0.0.1:{http.port}/shelf-{{to}}"]
address = "phone"

[[channels]]
type = "email"
host = "localhost"
port = 8025
from = "shelf@sample-garden.example"
""", team_notify='{ channel = "wecom", to = "BOT-KEY-1" }')
    assert [c.id for c in config.channels] == ["sms", "wecom", "dingtalk", "ntfy", "email"]
    channels = build_channels(config.channels)
    http.answer_body = {"Code": "OK"}
    channels["sms"].send(NOTICE)
    assert http.requests[-1].json == {"SignName": "示例花园", "PhoneNumbers": "13800002304",
                                      "TemplateParam": f"{NOTICE.subject}\n{NOTICE.body}"}
    assert http.requests[-1].headers["Authorization"] == "APPCODE T0KEN"
    http.answer_body = {"errcode": 0, "errmsg": "ok"}
    channels["wecom"].send(TEAM)
    assert http.requests[-1].path == "/cgi-bin/webhook/send"
    property_team = next(t for t in config.teams if t.id == "property")
    assert [(c.channel, c.to) for c in property_team.notify] == [("wecom", "BOT-KEY-1")]


@pytest.mark.parametrize(("table", "message"), [
    ('type = "webhook"\nurl = "http://127.0.0.1/x"\nphone_feild = "to"',
     "unknown key 'phone_feild'; allowed keys: .*phone_field"),
    ('type = "webhook"\nurl = "ftp://gateway"', "must start with http:// or https://"),
    ('type = "wecom"\napi_bse = "http://127.0.0.1"', "unknown key 'api_bse'; allowed keys: "
     "api_base"),
    ('type = "apprise"\nurls = ["nosuchservice://x/{to}"]', "is not an Apprise URL"),
    ('type = "apprise"\nurls = ["ntfy://h/{to}"]\naddress = "wechat"',
     "address = 'wechat': allowed values are 'phone', 'email', 'none'"),
    ('type = "sms"', "type = 'sms': allowed values are 'email', 'webhook', 'apprise'"),
])
def test_a_mistake_in_a_channel_names_the_key_and_what_is_allowed(community, table, message):
    with pytest.raises(ConfigError, match=message):
        with_channels(community, f"[[channels]]\n{table}\n")


def test_a_household_s_addresses_on_each_type_come_in_its_own_order(community):
    from kiosk.domain import Household, HouseholdId
    from kiosk.notices.queue import contacts

    config = with_channels(community, """
[[channels]]
type = "webhook"
id = "sms"
url = "http://127.0.0.1:9/api"

[[channels]]
type = "wecom"

[[channels]]
type = "email"
from = "shelf@sample-garden.example"
""")
    gao = Household(HouseholdId(15, "1205"), "Gao", "13800001205;13700005021",
                    "r15-1205@sample-garden.example")
    assert contacts(config.channels, gao) == [
        ("sms", "13800001205"), ("sms", "13700005021"),
        ("email", "r15-1205@sample-garden.example")]  # a group bot never reaches a household
    assert contacts(config.channels, Household(HouseholdId(13, "1102"), "Lin")) == []
    spaced = Household(HouseholdId(2, "902"), "Wu", "+86 139-5375 3544; (0)21 1234.5678")
    assert contacts(config.channels, spaced) == [("sms", "+8613953753544"), ("sms", "02112345678")]
    assert json.dumps(contacts(config.channels, gao))  # stored as JSON in the outbox
