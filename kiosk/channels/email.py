"""The e-mail channel: one SMTP conversation per notice, with smtplib.

A notice is rare (a few per parcel) and the relay may be a phone's hotspot away, so the channel
keeps no connection open between notices: each send connects, says what it has to say and
leaves. Every failure becomes a NoticeError naming the channel and the reason; the outbox
decides whether and when to try again.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from kiosk.config_table import Section
from kiosk.domain import Household
from kiosk.errors import NoticeError
from kiosk.ports import Notice


def read_options(section: Section) -> dict[str, Any]:
    """The keys of an ``[[channels]]`` table with ``type = "email"``."""
    return {
        "host": section.str("host", "localhost"),  # the SMTP relay
        "port": section.int("port", 25, minval=1, maxval=65535),
        "sender": section.str("from"),  # the From: address
        "starttls": section.bool("starttls", False),
        "username": section.str("username", ""),  # log in when set
        "password": section.str("password", ""),
        "timeout": section.float("timeout_seconds", 10, minval=1, maxval=120),
    }


def recipient(household: Household, options: Mapping[str, Any]) -> tuple[str, ...]:
    return (household.email,) if household.email else ()


class EmailChannel:
    """Send notices through an SMTP relay (optionally STARTTLS and login)."""

    def __init__(self, id: str, host: str, port: int, sender: str, starttls: bool = False,
                 username: str = "", password: str = "", timeout: float = 10) -> None:
        self.id = id
        self.name = id  # the Channel port's name: the [[channels]] id
        self.host, self.port = host, port
        self.sender = sender
        self.starttls = starttls
        self.username, self.password = username, password
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the password
        return f"EmailChannel({self.id!r}, {self.host!r}, {self.port})"

    def message(self, notice: Notice) -> EmailMessage:
        """Build the MIME message: UTF-8 text (always), the HTML with its inline images when the
        notice has one, then the attachments (inline images too: some readers hide them)."""
        try:
            message = EmailMessage()
            message["Subject"] = notice.subject
            message["From"] = self.sender
            message["To"] = notice.recipient
            message["Date"] = formatdate(localtime=True)
            message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
            message.set_content(notice.body)
            if notice.html:
                _add_html(message, notice)
            for item in notice.attachments:
                maintype, _, subtype = item.content_type.partition("/")
                message.add_attachment(item.data, maintype=maintype, subtype=subtype,
                                       filename=item.filename)
        except (ValueError, TypeError) as exc:  # e.g. a line break in an address
            raise NoticeError(f"{self.id}: cannot build the message: {exc}") from exc
        return message

    def send(self, notice: Notice) -> None:
        """Deliver one notice, or raise NoticeError with the reason."""
        message = self.message(notice)
        smtp = smtplib.SMTP(timeout=self.timeout)
        try:
            smtp.connect(self.host, self.port)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NoticeError(f"{self.id}: the server refused the recipient: "
                              f"{_replies(exc.recipients)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise NoticeError(f"{self.id}: {self.host}:{self.port} answered "
                              f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except OSError as exc:  # sockets, TLS, timeouts and the rest of smtplib's errors
            raise NoticeError(f"{self.id}: cannot send through {self.host}:{self.port}: "
                              f"{exc or type(exc).__name__}") from exc
        finally:
            _quit(smtp)
        if refused:  # only when some of several recipients were refused; we send to one
            raise NoticeError(f"{self.id}: the server refused the recipient: {_replies(refused)}")


def _add_html(message: EmailMessage, notice: Notice) -> None:
    """multipart/alternative: the text, then the HTML in a multipart/related with its images."""
    message.add_alternative(notice.html, subtype="html")
    html_part = message.get_payload()[-1]
    for item in notice.attachments:
        if item.inline_id:
            maintype, _, subtype = item.content_type.partition("/")
            html_part.add_related(item.data, maintype=maintype, subtype=subtype,
                                  cid=f"<{item.inline_id}>", filename=item.filename,
                                  disposition="inline")


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; the message is already accepted, so a rude goodbye is not a failure."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _replies(refused: dict[str, tuple[int, bytes]]) -> str:
    # The addresses are the keys: leave them out, the outbox row already names the recipient.
    return "; ".join(f"{code} {_text(reply)}" for code, reply in refused.values())


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
