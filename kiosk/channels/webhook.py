"""A generic JSON webhook: most SMS gateways (and many other services) take a JSON POST.

What is posted is configured, not coded: the URL, the headers (a ``{token}`` in a header is the
``token``, or the value of the environment variable ``token_env``, so the secret need not sit
in the file), a body template whose strings may say ``{text}`` (the notice's short form, one
SMS long, in the community's language; no QR), ``{subject}``, ``{body}`` (the full notice) and
``{phone}``, and the field that carries the phone number (``phone_field``, dotted for a nested
one: ``to.mobile``). Success is HTTP 2xx and, when ``ok_field`` is set, that field of the JSON
answer holding one of ``ok_values``: many gateways answer 200 with an error code in the body.

A household's addresses here are its phone numbers, in the order its phone column lists them.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from kiosk.channels.http_json import field, post_json, where
from kiosk.config_table import Section
from kiosk.domain import Household, split_phones
from kiosk.errors import ConfigError, NoticeError
from kiosk.ports import Notice

DEFAULT_BODY = {"mobile": "{phone}", "content": "{text}"}
PLACEHOLDERS = ("{text}", "{subject}", "{body}", "{phone}")


def read_options(section: Section) -> dict[str, Any]:
    """The keys of an ``[[channels]]`` table with ``type = "webhook"``."""
    url = section.str("url")  # where to POST, e.g. "https://sms.example.com/api/send"
    if not url.startswith(("http://", "https://")):
        section.fail(f"[{section.name}] url = {url!r}: must start with http:// or https://")
    headers = _strings(section, "headers")  # e.g. { Authorization = "Bearer {token}" }
    body = section.table("body", required=False).data or dict(DEFAULT_BODY)  # the JSON sent
    phone_field = section.str("phone_field", "mobile")  # where the number goes; "" = template
    ok_field = section.str("ok_field", "")  # e.g. "code": this answer field says it worked
    ok_values = [str(v) for v in section.list("ok_values", ["0", "OK", "ok", "success"])]
    return {
        "url": url,
        "headers": headers,
        "body": body,
        "phone_field": phone_field,
        "ok_field": ok_field,
        "ok_values": ok_values,
        "token": section.str("token", ""),  # put in place of {token} in the headers
        "token_env": section.str("token_env", ""),  # or: the environment variable holding it
        "max_chars": section.int("max_chars", 500, minval=20, maxval=10000),  # of {text}
        "timeout": section.float("timeout_seconds", 10, minval=1, maxval=120),
    }


def recipient(household: Household, options: Mapping[str, Any]) -> tuple[str, ...]:
    return phones(household)


def phones(household: Household) -> tuple[str, ...]:
    """The household's numbers as a gateway dials them, in the order of its phone column:
    ``+86 138-0000 2304`` -> ``+8613800002304``."""
    dialable = (re.sub(r"[^\d+]", "", number) for number in split_phones(household.phone))
    return tuple(dict.fromkeys(n for n in dialable if n.strip("+")))


class WebhookChannel:
    """POST each notice as JSON built from the body template; check the answer."""

    def __init__(self, id: str, url: str, headers: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None, phone_field: str = "mobile",
                 ok_field: str = "", ok_values: list[str] | None = None, token: str = "",
                 token_env: str = "", max_chars: int = 500, timeout: float = 10) -> None:
        self.id = self.name = id
        self.url, self.timeout, self.max_chars = url, timeout, max_chars
        self.body = dict(body or DEFAULT_BODY)
        self.phone_field, self.ok_field = phone_field, ok_field
        self.ok_values = list(ok_values or ["0", "OK", "ok", "success"])
        if token_env and not token:
            token = os.environ.get(token_env, "")
            if not token:  # refuse at start: the worker would fail every notice
                raise ConfigError(f"channel {id!r}: the environment variable {token_env} is "
                                  "not set; set it to the gateway's token")
        self.headers = {k: v.replace("{token}", token) for k, v in (headers or {}).items()}

    def __repr__(self) -> str:  # never show the token
        return f"WebhookChannel({self.id!r}, {where(self.url)!r})"

    def payload(self, notice: Notice) -> dict[str, Any]:
        """The JSON to post for ``notice``: the template filled in, the phone in its field."""
        # A text message: the notice's short form (one SMS), or its words cut to size.
        text = notice.short or f"{notice.subject}\n{notice.body}"
        if len(text) > self.max_chars:
            text = text[:self.max_chars - 1] + "…"
        values = {"{text}": text, "{subject}": notice.subject, "{body}": notice.body,
                  "{phone}": notice.recipient}
        filled = _fill(copy.deepcopy(self.body), values)
        if self.phone_field:
            _put(filled, self.phone_field, notice.recipient)
        return filled

    def send(self, notice: Notice) -> None:
        """Deliver one notice, or raise NoticeError with the reason."""
        answer = post_json(self.id, self.url, self.payload(notice), timeout=self.timeout,
                           headers=self.headers)
        if self.ok_field:
            value = field(answer, self.ok_field)
            if value is None or str(value) not in self.ok_values:
                raise NoticeError(f"{self.id}: {where(self.url)} answered {self.ok_field} = "
                                  f"{str(value)[:100]!r}, not one of {self.ok_values}")


def _strings(section: Section, key: str) -> dict[str, str]:
    table = section.table(key, required=False)
    for name, value in table.data.items():
        if not isinstance(value, str):
            section.fail(f"[{section.name}] {key}.{name} = {value!r}: must be a string")
    return dict(table.data)


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    """Put the notice's words in place of the placeholders in every string of the template."""
    if isinstance(value, str):
        for mark, text in values.items():
            value = value.replace(mark, text)
        return value
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _put(body: dict[str, Any], path: str, phone: str) -> None:
    """Set the dotted ``path`` of ``body`` to ``phone``, making the tables on the way."""
    *parents, last = path.split(".")
    for key in parents:
        body = body.setdefault(key, {})
    body[last] = phone
