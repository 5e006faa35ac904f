"""POST JSON to a gateway or a bot and say what came back: the HTTP part of the HTTP channels.

Errors name the channel and the server (scheme and host only: a bot's key or a gateway's token
often sits in the URL's query) and never the message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from kiosk.errors import NoticeError


def where(url: str) -> str:
    """``https://qyapi.weixin.qq.com``: a URL without its path and query, fit for a log."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def post_json(channel: str, url: str, body: Any, *, timeout: float,
              headers: Mapping[str, str] | None = None) -> Any:
    """POST ``body`` as JSON and return the parsed answer (None when it is not JSON).

    Raises NoticeError when no answer comes or the answer is not HTTP 2xx.
    """
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            text = answer.read(65536)
    except urllib.error.HTTPError as exc:
        raise NoticeError(f"{channel}: {where(url)} answered HTTP {exc.code} "
                          f"{_snippet(exc.read(300))}".rstrip()) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, timed out, bad URL
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        raise NoticeError(f"{channel}: cannot reach {where(url)}: {reason}") from exc
    try:
        return json.loads(text)
    except ValueError:
        return None


def field(answer: Any, path: str) -> Any:
    """The value at a dotted ``path`` in a JSON answer (``Response.Error.Code``); None if absent."""
    value = answer
    for key in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def check_errcode(channel: str, url: str, answer: Any) -> None:
    """A WeCom or DingTalk bot answers HTTP 200 even when it refused: its ``errcode`` says."""
    if not isinstance(answer, Mapping) or "errcode" not in answer:
        raise NoticeError(f"{channel}: {where(url)} gave no errcode in its answer")
    if answer["errcode"] != 0:
        raise NoticeError(f"{channel}: {where(url)} refused the message: errcode "
                          f"{answer['errcode']} {str(answer.get('errmsg', ''))[:200]}".rstrip())


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (a bot refuses longer), whole characters."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "..."


def _snippet(data: bytes) -> str:
    return " ".join(data.decode("utf-8", "replace").split())[:200]
