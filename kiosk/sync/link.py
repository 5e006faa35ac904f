"""The HTTP(S) transport of a gate's exchange with its centre (the standard library's urllib).

The token travels in the Authorization header only; no error message here ever holds it
(the URL has none), so nothing logged can leak it. TLS is the system's: a centre over the
internet is reached at an https:// URL through the reverse proxy of the README.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from kiosk.sync.protocol import (
    PATH,
    CentreUnreachable,
    CredentialRefused,
    NotThisGate,
    SyncError,
    UpgradeRequired,
)

MAX_ANSWER = 64 * 1024 * 1024  # a page of commands may carry a household list


class Link(Protocol):
    """Where a gate's exchanges go: the centre over HTTP (tests may pass their own)."""

    def exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request; return the centre's answer, or raise a SyncError."""


class HttpLink:
    """The centre's ``/sync/v1`` at ``url``, with the gate's bearer ``token``."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + PATH
        self._token = token
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"HttpLink({self.url!r})"  # never the token

    def exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        sent = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Accept": "application/json",
            "Authorization": f"Bearer {self._token}", "User-Agent": "shelf-gate"})
        try:
            with urllib.request.urlopen(sent, timeout=self.timeout_s) as answer:
                return json.loads(answer.read(MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, TLS, timeout
            reason = getattr(exc, "reason", exc)
            raise CentreUnreachable(f"the centre at {self.url} did not answer: {reason}"
                                    ) from None


def _refusal(exc: urllib.error.HTTPError) -> SyncError:
    """The shelf's error for what the centre answered instead of an exchange."""
    try:
        said = json.loads(exc.read(64 * 1024)).get("message", "")
    except (ValueError, AttributeError, OSError):
        said = ""
    if exc.code == 401:
        return CredentialRefused("the centre does not know this gate's token: check [centre] "
                                 "token (`shelf centre gate rotate` gives a new one)")
    if exc.code == 426:
        return UpgradeRequired(said or "the centre asks for an upgrade")
    if exc.code == 403:
        return NotThisGate(said or "the centre refused this gate's request")
    return CentreUnreachable(f"the centre answered {exc.code}: {said or exc.reason}")
