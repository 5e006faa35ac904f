"""The registry of channel types: each kind of channel is one file here, listed once below.

A type says which keys its ``[[channels]]`` table takes (validated as the file is read), which
addresses of a household it reaches, in order of preference (none for a team's group bot), and
how to build the adapter that sends (``kiosk.ports.Channel``). Adding a channel is adding a file
and a line to ``CHANNEL_TYPES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.channels import apprise_urls, dingtalk, email, webhook, wecom
from kiosk.config_table import Section
from kiosk.domain import Household
from kiosk.ports import Channel


@dataclass(frozen=True)
class ChannelType:
    name: str
    read_options: Callable[[Section], dict[str, Any]]
    # A household's addresses on a channel of this type (its options), most preferred first;
    # () when the household has none there, or the type reaches teams only.
    recipient: Callable[[Household, Mapping[str, Any]], tuple[str, ...]]
    build: Callable[..., Channel]  # build(id, **options)


CHANNEL_TYPES: dict[str, ChannelType] = {
    "email": ChannelType("email", email.read_options, email.recipient, email.EmailChannel),
    "webhook": ChannelType("webhook", webhook.read_options, webhook.recipient,
                           webhook.WebhookChannel),
    "apprise": ChannelType("apprise", apprise_urls.read_options, apprise_urls.recipient,
                           apprise_urls.AppriseChannel),
    "wecom": ChannelType("wecom", wecom.read_options, wecom.recipient, wecom.WeComBotChannel),
    "dingtalk": ChannelType("dingtalk", dingtalk.read_options, dingtalk.recipient,
                            dingtalk.DingTalkBotChannel),
}

