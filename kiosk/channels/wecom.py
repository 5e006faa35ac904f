"""The WeCom (企业微信) group bot: a team's group chat, told of door tasks and escalations.

Apprise has a WeCom bot plugin (``wecombot://KEY``), but it posts to the vendor's host written
into the plugin (so it cannot be pointed at a local receiver to test or at a relay) and takes
any HTTP 200 for success, while the bot answers HTTP 200 with ``errcode`` != 0 when it refuses
(a wrong key, too many messages a minute). So this adapter posts the documented JSON
(``{"msgtype": "text", "text": {"content": ...}}``) to ``{api_base}/cgi-bin/webhook/send?key=``
itself and checks the ``errcode``.

A bot reaches a group, never one household: the address on it is the bot's key, given per team
(``[[teams]] notify = [{ channel = "wecom", to = "KEY" }]``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from kiosk.channels.http_json import check_errcode, clip, post_json, where
from kiosk.config_table import Section
from kiosk.domain import Household
from kiosk.ports import Notice

API_BASE = "https://qyapi.weixin.qq.com"
TEXT_LIMIT = 2048  # bytes of a text message's content


def read_options(section: Section) -> dict[str, Any]:
    """The keys of an ``[[channels]]`` table with ``type = "wecom"``."""
    return {
        # Where the bot API is: the vendor's, or a relay/receiver of the same API.
        "api_base": section.str("api_base", API_BASE).rstrip("/"),
        "timeout": section.float("timeout_seconds", 10, minval=1, maxval=120),
    }


def recipient(household: Household, options: Mapping[str, Any]) -> tuple[str, ...]:
    return ()  # a group bot: teams only, a pickup code never goes to a group


class WeComBotChannel:
    """Post a notice's text to a WeCom group bot and check its ``errcode``."""

    def __init__(self, id: str, api_base: str = API_BASE, timeout: float = 10) -> None:
        self.id = self.name = id
        self.api_base, self.timeout = api_base, timeout

    def __repr__(self) -> str:
        return f"WeComBotChannel({self.id!r}, {where(self.api_base)!r})"

    def send(self, notice: Notice) -> None:
        """Deliver one notice to the bot whose key is its recipient, or raise NoticeError."""
        url = f"{self.api_base}/cgi-bin/webhook/send?" + urllib.parse.urlencode(
            {"key": notice.recipient})
        content = clip(f"{notice.subject}\n\n{notice.body}", TEXT_LIMIT)
        answer = post_json(self.id, url, {"msgtype": "text", "text": {"content": content}},
                           timeout=self.timeout)
        check_errcode(self.id, url, answer)
