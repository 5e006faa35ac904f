"""Send what the outbox holds: render each due notice, hand it to its channel, record the outcome.

``kiosk.notices`` queues facts at check-in, in the check-in's own transaction; this module turns
them into words and sends them, later, from a worker (``shelf notices``, the demo). Rules:

- The network send happens outside any transaction: a slow SMTP relay never holds the SQLite
  write lock the courier's next check-in needs. Each row's outcome is then committed in its own
  short unit of work. A crash between the send and that commit sends the notice again on the
  next run (at least once, never lost).
- A failed send is retried with exponential backoff (30 s, 1 min, 2 min ... capped at 30 min)
  until ``max_attempts``; then the row is failed and a ``notice_failed`` event tells the staff.
- One failing channel never stalls the others: once a channel fails in a pass, its other rows
  wait for the next pass and the rows of the other channels go ahead.
- Logs name households masked (``24-23**``) and never carry addresses or pickup codes.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from kiosk.channels.email import EmailChannel
from kiosk.config import Config
from kiosk.domain import mask_household
from kiosk.errors import NoticeError
from kiosk.labels import qr_image
from kiosk.notices import DOOR_DELIVERY, PICKUP_READY
from kiosk.ports import Attachment, Channel, Clock, Notice
from kiosk.store import Outbox, UnitOfWork

log = logging.getLogger(__name__)

FIRST_RETRY_S = 30
MAX_RETRY_S = 30 * 60
ACTOR = "system"
_ADDRESS_RE = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


# --- words ---------------------------------------------------------------------------------

def render(kind: str, payload: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    """Write the notice for an outbox row: Chinese first, then English."""
    if kind == PICKUP_READY:
        return _pickup_ready(payload, recipient, timezone)
    if kind == DOOR_DELIVERY:
        return _door_delivery(payload, recipient, timezone)
    raise ValueError(f"unknown notice kind {kind!r}")


def _pickup_ready(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    code, slot, place = p["pickup_code"], p["slot"], p["place"]
    if not code or not p["pickup_qr"]:
        raise ValueError("a pickup_ready notice without a pickup code")
    when = _local_time(p["checked_in_at"], timezone)
    subject = f"【快递到了 Parcel ready】{slot} · 取件码 Pickup code {code}"
    body = "\n".join([
        _hello_zh(p["name"]),
        "",
        f"您有快递到了{p['community']}的无接触快递架。",
        f"货位：{slot}（{place}）",
        f"取件码：{code}",
        f"入架时间：{when}",
        "取件时，请将附件中的二维码对准自助机的摄像头，或在自助机屏幕上输入取件码。",
        "一个取件码即可取走您所有待取的快递。",
        "",
        _hello_en(p["name"]),
        "",
        f"A parcel for you has arrived at the contactless delivery shelf of {p['community']}.",
        f"Slot: {slot} ({place})",
        f"Pickup code: {code}",
        f"Checked in: {when}",
        "To collect it, show the attached QR code to the kiosk's camera, or type the pickup "
        "code on the kiosk's screen.",
        "One code collects all your waiting parcels.",
        "",
        _footer(p),
    ])
    qr = Attachment("pickup-qr.png", "image/png", qr_image(p["pickup_qr"], kind="png"))
    return Notice(recipient, subject, body, (qr,))


def _door_delivery(p: Mapping[str, Any], recipient: str, timezone: tzinfo) -> Notice:
    when = _local_time(p["checked_in_at"], timezone)
    subject = "【快递到了 Parcel arrived】工作人员将送货上门 Staff will bring it to your door"
    body = "\n".join([
        _hello_zh(p["name"]),
        "",
        f"您有快递到了{p['community']}门岗。",
        "您家正在居家观察，请不要下楼取件：工作人员会把快递送到您家门口。",
        f"到达时间：{when}",
        "",
        _hello_en(p["name"]),
        "",
        f"A parcel for you has arrived at the gate of {p['community']}.",
        "Your household is under home observation, so please do not come down for it: "
        "staff will bring the parcel to your door.",
        f"Arrived: {when}",
        "",
        _footer(p),
    ])
    return Notice(recipient, subject, body)


def _hello_zh(name: str) -> str:
    return f"{name}，您好：" if name else "您好："


def _hello_en(name: str) -> str:
    return f"Hello {name}," if name else "Hello,"


def _footer(p: Mapping[str, Any]) -> str:
    return f"住户 Household: {p['household']} · 快递单号 Parcel reference: {p['parcel_ref']}"


def _local_time(stored: str, timezone: tzinfo) -> str:
    """A stored UTC time as people at the gate read it: ``2026-11-29 16:00 (Asia/Shanghai)``."""
    local = datetime.fromisoformat(stored).astimezone(timezone)
    zone = getattr(timezone, "key", None) or local.tzname()
    return f"{local:%Y-%m-%d %H:%M} ({zone})"


# --- delivery ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeliveryReport:
    """What one pass did: notices sent, failed attempts to retry, notices given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def retry_delay(failures: int) -> timedelta:
    """How long to wait after the ``failures``-th failed attempt: 30 s, doubling, at most 30 min."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** min(max(failures, 1) - 1, 16), MAX_RETRY_S))


def deliver_due(conn: sqlite3.Connection, channels: Mapping[str, Channel], clock: Clock, *,
                timezone: tzinfo = UTC, max_attempts: int = 8, batch: int = 20) -> DeliveryReport:
    """Try each due notice once (at most ``batch`` of them) and record what happened.

    ``timezone`` is the community's (``config.timezone``), for the times the notices show.
    """
    counts = {"sent": 0, "retried": 0, "failed": 0}
    now = clock.now()
    outbox = Outbox(conn)
    seen: set[int] = set()
    down: set[str] = set()  # channels that failed in this pass
    while sum(counts.values()) < batch:
        # Rows skipped for a down channel stay due: ask for enough to see past them.
        rows = [r for r in outbox.due(now, batch + len(seen)) if r["id"] not in seen]
        if not rows:
            break
        for row in rows:
            if sum(counts.values()) >= batch:
                break
            seen.add(row["id"])
            if row["channel"] in down:
                continue  # untouched, no attempt counted: the next pass tries it
            outcome, channel_failed = _deliver(conn, row, channels, clock, timezone,
                                               max_attempts)
            counts[outcome] += 1
            if channel_failed:
                down.add(row["channel"])
    return DeliveryReport(**counts)


def _deliver(conn: sqlite3.Connection, row: sqlite3.Row, channels: Mapping[str, Channel],
             clock: Clock, timezone: tzinfo, max_attempts: int) -> tuple[str, bool]:
    """Send one row and commit its outcome ('sent', 'retried' or 'failed'); say whether the
    channel itself failed."""
    channel = channels.get(row["channel"])
    if channel is None:
        return _give_up(conn, row, f"channel {row['channel']!r} is not configured (any more)",
                        clock.now()), False
    payload: Mapping[str, Any] = {}
    try:
        payload = json.loads(row["payload"])
        notice = render(row["kind"], payload, row["recipient"], timezone)
    except (ValueError, KeyError, TypeError) as exc:  # retrying would not change the words
        error = _scrub(f"cannot write the notice: {exc!r}", row, payload)
        return _give_up(conn, row, error, clock.now()), False
    try:
        channel.send(notice)  # outside any transaction: never hold the write lock on the network
    except (NoticeError, OSError) as exc:
        error = _scrub(str(exc) or type(exc).__name__, row, payload)
    except Exception as exc:  # a bug in one adapter must not stop the other channels
        error = _scrub(f"{type(exc).__name__}: {exc}", row, payload)
        log.debug("channel %s raised unexpectedly", row["channel"], exc_info=True)
    else:
        with UnitOfWork(conn) as uow:
            uow.outbox.mark_sent(row["id"], clock.now())
        log.info("notice %d (%s) for %s sent via %s", row["id"], row["kind"],
                 _who(row), row["channel"])
        return "sent", False
    failures = row["attempts"] + 1
    if failures >= max_attempts:
        return _give_up(conn, row, error, clock.now()), True
    retry_at = clock.now() + retry_delay(failures)
    with UnitOfWork(conn) as uow:
        uow.outbox.mark_failed(row["id"], error, retry_at)
    log.warning("notice %d for %s via %s failed (attempt %d of %d), retrying in %d s: %s",
                row["id"], _who(row), row["channel"], failures, max_attempts,
                retry_delay(failures).total_seconds(), error)
    return "retried", True


def _give_up(conn: sqlite3.Connection, row: sqlite3.Row, error: str, now: datetime) -> str:
    with UnitOfWork(conn) as uow:
        uow.outbox.mark_failed(row["id"], error, None)
        uow.events.add("notice_failed", ACTOR, now, parcel=row["parcel_id"],
                       household=row["household_id"], notice=row["id"], notice_kind=row["kind"],
                       channel=row["channel"], attempts=row["attempts"] + 1, error=error[:500])
    log.error("notice %d for %s via %s given up: %s", row["id"], _who(row), row["channel"], error)
    return "failed"


def _who(row: sqlite3.Row) -> str:
    return mask_household(row["household_id"]) if row["household_id"] else "-"


def _scrub(text: str, row: sqlite3.Row, payload: Mapping[str, Any]) -> str:
    """Take addresses and pickup codes out of an error before it is stored or logged."""
    facts = payload if isinstance(payload, Mapping) else {}
    for secret in (facts.get("pickup_qr"), facts.get("pickup_code")):
        if secret:
            text = text.replace(str(secret), "[code]")
    text = text.replace(row["recipient"], "[recipient]") if row["recipient"] else text
    return _ADDRESS_RE.sub("[address]", text)


def run_worker(conn: sqlite3.Connection, channels: Mapping[str, Channel], clock: Clock,
               stop: threading.Event, interval: float = 2.0, *, timezone: tzinfo = UTC,
               max_attempts: int = 8, batch: int = 20) -> None:
    """Deliver due notices until ``stop`` is set; a full batch goes round again at once.

    Give the worker its own connection (``store.connect``): a unit of work is per connection.
    """
    log.info("notice worker started; channels: %s", ", ".join(channels) or "none")
    while not stop.is_set():
        try:
            report = deliver_due(conn, channels, clock, timezone=timezone,
                                 max_attempts=max_attempts, batch=batch)
        except Exception:  # e.g. the database stayed locked: keep the worker alive
            log.exception("notice worker: a delivery pass failed; trying again")
            report = DeliveryReport()
        if report.handled < batch:
            stop.wait(interval)
    log.info("notice worker stopped")


def build_channels(config: Config) -> dict[str, Channel]:
    """One adapter per configured channel, by id; an unknown type is a warning, not a crash."""
    channels: dict[str, Channel] = {}
    for item in config.channels:
        if item.type == "email":
            channels[item.id] = EmailChannel(item.id, **item.options)
        else:
            log.warning("channel %s: type %r has no adapter; its notices will fail",
                        item.id, item.type)
    return channels
