"""The DingTalk (钉钉) group bot: a team's group chat, told of door tasks and escalations.

Apprise's DingTalk plugin posts to the vendor's host written into the plugin and takes any
HTTP 200 for success, while the bot answers HTTP 200 with ``errcode`` != 0 when it refuses (a
wrong token, a bad signature, a missing keyword). So this adapter posts the documented JSON
(``{"msgtype": "text", "text": {"content": ...}}``) to ``{api_base}/robot/send?access_token=``
itself, signs it when the bot has a secret (``timestamp`` and ``sign``: HMAC-SHA256 of
"timestamp\\nsecret"), and checks the ``errcode``.

A bot reaches a group, never one household: the address on it is the bot's access token, given
per team (``[[teams]] notify = [{ channel = "dingtalk", to = "TOKEN" }]``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kiosk.channels.http_json import check_errcode, clip, post_json, where
from kiosk.config_table import Section
from kiosk.domain import Household
from kiosk.ports import Notice

API_BASE = "https://oapi.dingtalk.com"
TEXT_LIMIT = 18000  # bytes; the bot takes about 20,000


def read_options(section: Section) -> dict[str, Any]:
    """The keys of an ``[[channels]]`` table with ``type = "dingtalk"``."""
    return {
        # Where the bot API is: the vendor's, or a relay/receiver of the same API.
        "api_base": section.str("api_base", API_BASE).rstrip("/"),
        # The bot's signing secret ("SEC..."), when its security setting is "加签".
        "secret": section.str("secret", ""),
        # A word every message must carry, when its security setting is "自定义关键词".
        "keyword": section.str("keyword", ""),
        "timeout": section.float("timeout_seconds", 10, minval=1, maxval=120),
    }


def recipient(household: Household, options: Mapping[str, Any]) -> tuple[str, ...]:
    return ()  # a group bot: teams only, a pickup code never goes to a group


def signed(secret: str, millis: int) -> dict[str, str]:
    """The query a signing bot wants: the time in milliseconds and its HMAC-SHA256 signature."""
    digest = hmac.new(secret.encode(), f"{millis}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(millis), "sign": base64.b64encode(digest).decode()}


class DingTalkBotChannel:
    """Post a notice's text to a DingTalk group bot and check its ``errcode``."""

    def __init__(self, id: str, api_base: str = API_BASE, secret: str = "", keyword: str = "",
                 timeout: float = 10) -> None:
        self.id = self.name = id
        self.api_base, self.secret, self.keyword = api_base, secret, keyword
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the secret
        return f"DingTalkBotChannel({self.id!r}, {where(self.api_base)!r})"

    def send(self, notice: Notice) -> None:
        """Deliver one notice to the bot whose token is its recipient, or raise NoticeError."""
        query = {"access_token": notice.recipient}
        if self.secret:  # the bot's clock check allows an hour: the wall clock, not the shelf's
            query |= signed(self.secret, int(time.time() * 1000))
        url = f"{self.api_base}/robot/send?" + urllib.parse.urlencode(query)
        text = f"{notice.subject}\n\n{notice.body}"
        if self.keyword and self.keyword not in text:
            text = f"{self.keyword} {text}"
        answer = post_json(self.id, url, {"msgtype": "text",
                                          "text": {"content": clip(text, TEXT_LIMIT)}},
                           timeout=self.timeout)
        check_errcode(self.id, url, answer)
