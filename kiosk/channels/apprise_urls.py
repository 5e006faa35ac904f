"""Apprise as the channel layer: any service Apprise speaks, named by URL templates.

ntfy (``ntfy://host/shelf-{to}``), a JSON webhook (``json://host/path?to={to}``), many SMS
gateways, Telegram, mail ... each URL gets the recipient in place of ``{to}`` (URL-quoted).
``address`` says which of a household's addresses is the recipient: its phone numbers (in
their order of preference), its e-mail address, or none (a team-only channel: its contacts'
``to``). A send succeeds when every URL accepted the notice; when one did not, Apprise's own
warning is the reason given. A channel whose address is a phone sends the notice's short
form (one SMS, no title, no QR).

Apprise is imported when a channel of this type is read or used: it takes a good part of a
second to load, which a community that does not use it should not wait for at every command.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kiosk.channels import email
from kiosk.channels.webhook import phones
from kiosk.config_table import Section
from kiosk.domain import Household
from kiosk.errors import NoticeError
from kiosk.ports import Notice

ADDRESSES = ("phone", "email", "none")


def read_options(section: Section) -> dict[str, Any]:
    """The keys of an ``[[channels]]`` table with ``type = "apprise"``."""
    import apprise

    _keep_apprise_to_itself()  # its records name the URLs, which may hold a token
    urls = section.list("urls")  # Apprise URLs; {to} is replaced by the recipient
    for url in urls:
        if not isinstance(url, str) or apprise.Apprise.instantiate(_filled(url, "x")) is None:
            section.fail(f"[{section.name}] urls: {str(url)[:60]!r} is not an Apprise URL "
                         "Apprise understands, e.g. \"ntfy://ntfy.example.org/shelf-{to}\"")
    return {
        "urls": list(urls),
        "address": section.str("address", "none", choices=ADDRESSES),  # whose {to}
        "attach": section.bool("attach", True),  # send the pickup QR where the service can
    }


def recipient(household: Household, options: Mapping[str, Any]) -> tuple[str, ...]:
    if options.get("address") == "phone":
        return phones(household)
    if options.get("address") == "email":
        return email.recipient(household, options)
    return ()


class AppriseChannel:
    """Send each notice to the channel's Apprise URLs, the recipient filled in."""

    def __init__(self, id: str, urls: list[str], address: str = "none",
                 attach: bool = True) -> None:
        self.id = self.name = id
        self.urls, self.address, self.attach = list(urls), address, attach

    def __repr__(self) -> str:  # a URL may hold a token: show the scheme only
        return f"AppriseChannel({self.id!r}, {[u.partition(':')[0] for u in self.urls]!r})"

    def send(self, notice: Notice) -> None:
        """Deliver one notice to every URL, or raise NoticeError with Apprise's reason."""
        import apprise
        from apprise.attachment.memory import AttachMemory

        _keep_apprise_to_itself()
        sender = apprise.Apprise()
        for url in self.urls:
            if not sender.add(_filled(url, notice.recipient)):
                raise NoticeError(f"{self.id}: Apprise does not understand the URL "
                                  f"{url.partition(':')[0]}://... for this recipient")
        title, body, attach = notice.subject, notice.body, self.attach
        if self.address == "phone" and notice.short:  # a text message: one SMS, no QR
            title, body, attach = "", notice.short, False
        attachments = None
        if attach and notice.attachments:
            attachments = apprise.AppriseAttachment([
                AttachMemory(content=a.data, name=a.filename, mimetype=a.content_type)
                for a in notice.attachments])
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
            sent = sender.notify(body=body, title=title,
                                 body_format=apprise.NotifyFormat.TEXT, attach=attachments)
        if not sent:
            lines = [line for line in said.getvalue().splitlines() if line.strip()]
            reason = lines[-1] if lines else "the service did not accept it"
            raise NoticeError(f"{self.id}: {reason[:300]}")


def _keep_apprise_to_itself() -> None:
    """Keep Apprise's log records out of the shelf's log: it logs the URLs it posts to and the
    addresses it mails (a resident's phone in ``ntfy://host/shelf-{to}``, an e-mail address)
    at INFO and DEBUG, and so does urllib3 under it (each request's path, at DEBUG; nothing
    else here uses urllib3). Apprise's warnings still reach the notice's error (``LogCapture``
    has its own handler), which the outbox keeps with the addresses scrubbed. The NullHandler
    keeps Python's last-resort handler from printing them to stderr instead.

    Set again before each use (cheap, idempotent): a logger is process-wide state that
    anything in the process may change."""
    for name in ("apprise", "urllib3"):
        records = logging.getLogger(name)
        records.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in records.handlers):
            records.addHandler(logging.NullHandler())


def _filled(url: str, to: str) -> str:
    return url.replace("{to}", urllib.parse.quote(to, safe=""))

