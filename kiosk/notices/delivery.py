"""Send what the outbox holds: render each due notice, hand it to its channel, record the outcome.

``kiosk.notices.queue`` queues facts at check-in, in the check-in's own transaction; this worker
has them rendered (``kiosk.notices.render``) and sends them, later (``shelf notices``, the
demo). Rules:

- A worker claims a row (``claimed_by`` until ``lease_until``) in a short transaction before
  it sends, so several workers may share one outbox: none sends a row another holds. The
  network send happens outside any transaction: a slow SMTP relay never holds the SQLite
  write lock the courier's next check-in needs. Each row's outcome is then committed in its own
  short unit of work. A worker that dies between the send and that commit leaves its claim to
  run out; then another sends the notice again (at least once, never lost; at most one
  duplicate per crash).
- A notice goes down its household's chain of contacts (``kiosk.notices.queue``): a failed
  send is retried with exponential backoff (30 s, 1 min, 2 min ... capped at 30 min), on a
  contact that is not the last for about half an hour (CONTACT_ATTEMPTS), then on the next one;
  on the last for about a day (MAX_ATTEMPTS, derived from GIVE_UP_AFTER: longer than a
  plausible outage of a mail relay or gateway); each move to the next contact is a
  ``notice_fell_back`` event, in the move's transaction; then the row is failed, a ``notice_failed``
  event tells the staff, and ``kiosk.queries.failed_notices`` lists it for the staff page until
  someone requeues it (``requeue_failed``: ``shelf notices retry``, from the first contact).
- Quiet hours hold reminders and return warnings (``kiosk.notices.reminders.HELD_KINDS``),
  their retries included: a failed one is retried at the later of its backoff and the end of
  the quiet hours, and one found due in them (a contact fallen back to, a lease run out) is
  put back unsent until they end. Every other kind goes at once, day or night.
- One failing channel never stalls the others: once a channel fails in a pass, its other rows
  wait for the next pass and the rows of the other channels go ahead.
- Logs name households masked (``24-23**``) and never carry addresses or pickup codes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from kiosk.channels import CHANNEL_TYPES
from kiosk.config import ChannelConfig, NoticeSettings
from kiosk.domain import QueuedNotice, mask_household
from kiosk.errors import NoticeError, StoreUnavailable
from kiosk.notices.reminders import held_until
from kiosk.notices.render import render
from kiosk.ports import Channel, Clock, UnitOfWork

log = logging.getLogger(__name__)

FIRST_RETRY_S = 30
MAX_RETRY_S = 30 * 60
GIVE_UP_AFTER = timedelta(hours=24)  # the last attempt comes at least this long after the first
ACTOR = "system"
_ADDRESS_RE = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass did: notices sent, failed attempts (retried on the same contact or the
    next one), notices given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed

    def as_json(self) -> dict[str, int]:
        """The shape of ``shelf notices --once --json``."""
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def retry_delay(failures: int) -> timedelta:
    """How long to wait after the ``failures``-th failed attempt: 30 s, doubling, at most 30 min."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** min(max(failures, 1) - 1, 16), MAX_RETRY_S))


def attempts_spanning(span: timedelta) -> int:
    """How many attempts the backoff makes before the last one comes ``span`` after the first."""
    attempts, waited = 1, timedelta()
    while waited < span:
        waited += retry_delay(attempts)
        attempts += 1
    return attempts


MAX_ATTEMPTS = attempts_spanning(GIVE_UP_AFTER)  # 54
# A contact that is not the last of its chain is tried about this long, then the next one.
CONTACT_SPAN = timedelta(minutes=30)
CONTACT_ATTEMPTS = attempts_spanning(CONTACT_SPAN)  # 7
LEASE = timedelta(minutes=5)  # a claim outlives the slowest send (channels time out in 2 min)


def deliver_due(uow: UnitOfWork, channels: Mapping[str, Channel], clock: Clock, *,
                timezone: tzinfo = UTC, max_attempts: int = MAX_ATTEMPTS,
                contact_attempts: int = CONTACT_ATTEMPTS, batch: int | None = 20,
                lease: timedelta = LEASE, worker: str | None = None,
                quiet_hours: NoticeSettings | None = None, language: str = "zh"
                ) -> DeliveryReport:
    """Try each due notice once (at most ``batch`` of them; all of them for None) and record
    what happened.

    Each is claimed first, in its own short transaction, for ``lease``: another worker leaves
    it alone meanwhile, and takes it up once the lease has run out (this one crashed).
    ``contact_attempts``: attempts on a contact before the next of its chain is tried;
    ``max_attempts``: on the last contact, before the notice gives up. ``timezone`` is the
    community's, for the times the notices show (and its quiet hours); ``quiet_hours``: the
    [notices] settings whose quiet hours hold reminders (None: no quiet hours); ``language``:
    the community's, for the short form a text message carries.
    """
    worker = worker or worker_id()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    now = clock.now()
    seen: set[int] = set()
    down: set[str] = set()  # channels that failed in this pass: their rows wait for the next
    while batch is None or sum(counts.values()) < batch:
        with uow:
            row = uow.outbox.claim(now, worker, clock.now() + lease, skip_channels=down,
                                   skip_ids=seen)
        if row is None:
            break
        seen.add(row.id)
        hold = _holding(row.kind, quiet_hours, timezone)
        at = clock.now()
        if (until := hold(at)) > at:  # due in the quiet hours: not sent, not counted
            with uow:
                uow.outbox.postpone(row.id, until, worker)
            continue
        outcome, channel_failed = _deliver(uow, row, channels, clock, timezone,
                                           (contact_attempts, max_attempts), worker, hold,
                                           language)
        counts[outcome] += 1
        if channel_failed:
            down.add(row.channel)
    return DeliveryReport(**counts)


def worker_id() -> str:
    """Who claims a notice: this host and process, and a random part (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _holding(kind: str, quiet_hours: NoticeSettings | None,
             timezone: tzinfo) -> Callable[[datetime], datetime]:
    """When a notice of ``kind`` due at a moment may go (quiet hours hold some kinds)."""
    if quiet_hours is None:
        return lambda moment: moment
    return lambda moment: held_until(kind, moment, quiet_hours, timezone)


def _deliver(uow: UnitOfWork, row: QueuedNotice, channels: Mapping[str, Channel],
             clock: Clock, timezone: tzinfo, limits: tuple[int, int], worker: str,
             hold: Callable[[datetime], datetime], language: str) -> tuple[str, bool]:
    """Send one claimed row and commit its outcome ('sent', 'retried' or 'failed'); say
    whether the channel itself failed. A retry waits for ``hold`` (quiet hours)."""
    channel = channels.get(row.channel)
    if channel is None:
        error = f"channel {row.channel!r} is not configured (any more)"
        if row.next_contact():
            return _fall_back(uow, row, error, clock.now(), worker), False
        return _give_up(uow, row, error, clock.now(), worker), False
    payload: Mapping[str, Any] = {}
    try:
        payload = json.loads(row.payload)
        notice = render(row.kind, payload, row.recipient, timezone, language)
    except (ValueError, KeyError, TypeError) as exc:  # retrying would not change the words
        error = _scrub(f"cannot write the notice: {exc!r}", row, payload)
        return _give_up(uow, row, error, clock.now(), worker), False
    try:
        channel.send(notice)  # outside any transaction: never hold the write lock on the network
    except (NoticeError, OSError) as exc:
        error = _scrub(str(exc) or type(exc).__name__, row, payload)
    except Exception as exc:  # a bug in one adapter must not stop the other channels
        error = _scrub(f"{type(exc).__name__}: {exc}", row, payload)
        log.debug("channel %s raised unexpectedly", row.channel, exc_info=True)
    else:
        with uow:
            uow.outbox.mark_sent(row.id, clock.now())
        log.info("notice %d (%s) for %s sent via %s", row.id, row.kind, _who(row), row.channel)
        return "sent", False
    failures = row.contact_attempts + 1
    last = row.next_contact() is None
    allowed = limits[1] if last else limits[0]
    if failures >= allowed:
        if last:
            return _give_up(uow, row, error, clock.now(), worker), True
        return _fall_back(uow, row, error, clock.now(), worker), True
    retry_at = hold(clock.now() + retry_delay(failures))  # never in the quiet hours
    with uow:
        uow.outbox.mark_failed(row.id, error, retry_at, worker=worker)
    log.warning("notice %d for %s via %s failed (attempt %d of %d), retrying in %d s: %s",
                row.id, _who(row), row.channel, failures, allowed,
                (retry_at - clock.now()).total_seconds(), error)
    return "retried", True


def _fall_back(uow: UnitOfWork, row: QueuedNotice, error: str, now: datetime,
               worker: str) -> str:
    """Leave this contact for the next of the chain, tried at once, with a ``notice_fell_back``
    event for the parcel's timeline (channel ids only: never the address or phone)."""
    following = row.next_contact()
    to = following[0] if following else "-"
    with uow:
        moved = uow.outbox.fall_back(row.id, error, now, worker=worker)
        if moved:
            uow.events.add("notice_fell_back", ACTOR, now, parcel=row.parcel_id,
                           household=row.household_id, notice=row.id, notice_kind=row.kind,
                           attempts=row.contact_attempts + 1, error=error[:500],
                           **{"from": row.channel, "to": to})
    if moved:
        log.warning("notice %d for %s: %s did not take it (%s); trying the next contact, "
                    "via %s", row.id, _who(row), row.channel, error, to)
    return "retried"


def _give_up(uow: UnitOfWork, row: QueuedNotice, error: str, now: datetime,
             worker: str | None = None) -> str:
    with uow:
        if not uow.outbox.mark_failed(row.id, error, None, worker=worker):
            return "failed"  # another worker took the row over meanwhile: its outcome stands
        uow.events.add("notice_failed", ACTOR, now, parcel=row.parcel_id,
                       household=row.household_id, notice=row.id, notice_kind=row.kind,
                       channel=row.channel, attempts=row.attempts + 1,
                       contacts=len(row.chain()), error=error[:500])
    log.error("notice %d for %s via %s given up: %s", row.id, _who(row), row.channel, error)
    return "failed"


@dataclass(frozen=True)
class RequeueReport:
    """What a retry request did: notices made pending again, and ids left alone (and why)."""

    requeued: tuple[int, ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"requeued": list(self.requeued),
                "skipped": [{"id": i, "reason": why} for i, why in self.skipped]}


def requeue_failed(uow: UnitOfWork, clock: Clock, *, actor: str,
                   ids: Sequence[int] | None = None) -> RequeueReport:
    """Send notices that gave up again: all of them (``ids`` None) or those among ``ids``.

    Each goes back to pending, due now, its attempts counted from zero (another day of
    retries), with a ``notice_requeued`` event naming ``actor``.
    """
    now = clock.now()
    with uow:
        rows = uow.outbox.failed(ids)
        for row in rows:
            uow.outbox.requeue(row.id, now)
            uow.events.add("notice_requeued", actor, now, parcel=row.parcel_id,
                           household=row.household_id, notice=row.id, notice_kind=row.kind,
                           channel=row.channel, attempts=row.attempts)
        done = {row.id for row in rows}
        skipped = tuple((i, _not_failed(uow.outbox.status(i)))
                        for i in dict.fromkeys(ids or ()) if i not in done)
    for row in rows:
        log.info("notice %d for %s via %s requeued by %s", row.id, _who(row), row.channel, actor)
    return RequeueReport(tuple(sorted(done)), skipped)


def _not_failed(status: str | None) -> str:
    if status is None:
        return "there is no such notice"
    if status == "sent":
        return "it was sent already"
    return "it has not given up: it is still being retried"


def _who(row: QueuedNotice) -> str:
    return mask_household(row.household_id) if row.household_id else "-"


def _scrub(text: str, row: QueuedNotice, payload: Mapping[str, Any]) -> str:
    """Take addresses and pickup codes out of an error before it is stored or logged."""
    facts = payload if isinstance(payload, Mapping) else {}
    for secret in (facts.get("pickup_qr"), facts.get("pickup_code")):
        if secret:
            text = text.replace(str(secret), "[code]")
    text = text.replace(row.recipient, "[recipient]") if row.recipient else text
    return _ADDRESS_RE.sub("[address]", text)


def run_worker(uow: UnitOfWork, channels: Mapping[str, Channel], clock: Clock,
               stop: threading.Event, interval: float = 2.0, *, timezone: tzinfo = UTC,
               max_attempts: int = MAX_ATTEMPTS, contact_attempts: int = CONTACT_ATTEMPTS,
               batch: int = 20, lease: timedelta = LEASE,
               quiet_hours: NoticeSettings | None = None, language: str = "zh",
               each_pass: Sequence[Callable[[], object]] = ()) -> None:
    """Deliver due notices until ``stop`` is set; a full batch goes round again at once.

    Give the worker a unit of work on its own connection: a transaction is per connection.
    ``each_pass`` runs before every pass, one after another (door tasks' handovers and
    escalations, new tasks, reminders: notices the same pass then sends); when one fails, the
    others run and the notices go out all the same.
    """
    worker = worker_id()  # one name for all its claims: several workers may share the outbox
    log.info("notice worker %s started; channels: %s", worker, ", ".join(channels) or "none")
    while not stop.is_set():
        for work in each_pass:
            _alone(work)
        try:
            report = deliver_due(uow, channels, clock, timezone=timezone,
                                 max_attempts=max_attempts, contact_attempts=contact_attempts,
                                 batch=batch, lease=lease, worker=worker,
                                 quiet_hours=quiet_hours, language=language)
        except StoreUnavailable as exc:  # locked or full: the rows wait, nothing is lost
            log.warning("notice worker: the store is unavailable (%s); trying again", exc)
            report = DeliveryReport()
        except Exception:  # a bug must not end the worker: the next pass tries again
            log.exception("notice worker: a delivery pass failed; trying again")
            report = DeliveryReport()
        if report.handled < batch:
            stop.wait(interval)
    log.info("notice worker stopped")


def _alone(work: Callable[[], object]) -> None:
    """Run ``work``; a busy store or a bug in it is logged, and the worker goes on."""
    try:
        work()
    except StoreUnavailable as exc:
        log.warning("notice worker: the store is unavailable for %s (%s); trying again",
                    getattr(work, "__name__", "a task"), exc)
    except Exception:
        log.exception("notice worker: %s failed; trying again", getattr(work, "__name__", "a task"))


def build_channels(channels: tuple[ChannelConfig, ...]) -> dict[str, Channel]:
    """One adapter per configured channel, by id, from the registry of channel types."""
    return {item.id: CHANNEL_TYPES[item.type].build(item.id, **item.options) for item in channels}


def delivery_limits(settings: NoticeSettings) -> dict[str, Any]:
    """The [notices] settings as ``deliver_due`` and ``run_worker`` take them."""
    return {"contact_attempts": attempts_spanning(timedelta(minutes=settings.contact_minutes)),
            "max_attempts": attempts_spanning(timedelta(hours=settings.give_up_hours)),
            "lease": timedelta(seconds=settings.lease_seconds),
            "quiet_hours": settings}
