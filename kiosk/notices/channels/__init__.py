"""The registry of channel types: each kind of channel is one file here, listed once below.

A type says which keys its ``[[channels]]`` table takes (validated as the file is read), where a
household's address for it comes from, and how to build the adapter that sends
(``kiosk.ports.Channel``). Adding a channel is adding a file and a line to ``CHANNEL_TYPES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.domain import Household
from kiosk.notices.channels import email
from kiosk.ports import Channel

if TYPE_CHECKING:
    from kiosk.config import Section


@dataclass(frozen=True)
class ChannelType:
    name: str
    read_options: Callable[[Section], dict[str, Any]]
    recipient: Callable[[Household], str]  # '' when the household has no address here
    build: Callable[..., Channel]  # build(id, **options)


CHANNEL_TYPES: dict[str, ChannelType] = {
    "email": ChannelType("email", email.read_options, email.recipient, email.EmailChannel),
}
