"""The gate's side of the sync: push what the centre lacks, pull what the gate lacks.

``sync_once`` runs exchanges until the journal is acknowledged and no command waits (or the
centre cannot be reached); ``run_sync`` does that on a timer, with back-off after a failure,
whether or not anything new was written (a quiet gate at night still catches up), and prunes
the journal of what the centre has held for ``[centre] journal_days``. Neither ever holds a
write lock while it waits for the network: the kiosk's check-ins go on.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.config import Config, names_in_languages
from kiosk.migrations import load
from kiosk.ports import Clock
from kiosk.queries import kiosk_health, slot_layout
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal, Record
from kiosk.sync.commands import Command, apply_command
from kiosk.sync.link import Link
from kiosk.sync.protocol import (
    BATCH,
    PROTOCOL,
    CentreUnreachable,
    JournalPruned,
    SyncError,
)

log = logging.getLogger(__name__)

MAX_ROUNDS = 10_000  # exchanges in one sync_once: a week offline is ~30 batches
BACKOFF_LIMIT = 30  # after failures the wait doubles, up to this many times sync_seconds
PRUNE_EVERY = timedelta(hours=1)  # the journal is pruned at the start, then this often


@dataclass
class SyncReport:
    """What one ``sync_once`` did: the shape of ``shelf sync --json``."""

    pushed: int = 0  # records the centre took that it did not hold before
    pulled: int = 0  # commands applied here
    pending: int = 0  # records not yet acknowledged
    lag_s: float | None = None  # how old the oldest of them is (None: none)
    centre: str = "reachable"  # reachable, unreachable, refused
    error: str | None = None
    epoch: str = ""
    rewound: list[dict[str, Any]] = field(default_factory=list)  # epochs moved aside
    refused: list[dict[str, Any]] = field(default_factory=list)  # commands refused here

    def as_json(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "pulled": self.pulled, "pending": self.pending,
                "lag_s": self.lag_s, "centre": self.centre, "error": self.error,
                "epoch": self.epoch, "rewound": self.rewound, "refused": self.refused}


def sync_once(conn: sqlite3.Connection, config: Config, link: Link, clock: Clock, *,
              batch: int = BATCH, max_rounds: int = MAX_ROUNDS) -> SyncReport:
    """Exchange with the centre until nothing is left to push or pull; never raise for the
    network (the report says ``centre``: unreachable, refused)."""
    journal = Journal(conn)
    report = SyncReport()
    written = journal.join()
    if written:
        log.info("joined the centre: %d records of what this gate holds go first", written)
    for _ in range(max_rounds):
        state = journal.state()
        pruned = _pruned_too_soon(journal, state.epoch)
        records = [] if pruned else journal.pending(batch)  # the commands still come down
        try:
            answer = link.exchange(_request(conn, config, journal, records, clock))
        except SyncError as exc:
            report.centre = "unreachable" if isinstance(exc, CentreUnreachable) else "refused"
            report.error = str(exc)
            journal.synced(clock.now(), str(exc))
            log.warning("sync: %s", exc)
            break
        if pruned is not None:
            report.centre, report.error = "refused", str(pruned)
            log.error("sync: %s", pruned)
        moved = _acknowledge(journal, state.acked, records, answer, report)
        commands = [Command.from_json(c) for c in answer.get("commands") or []]
        for command in commands:
            outcome = apply_command(SqliteUnitOfWork(conn), config, clock, command)
            if outcome is not None:
                report.pulled += 1
                if outcome["status"] == "refused":
                    report.refused.append({"command": command.seq, **outcome})
        if not (moved or commands):
            journal.synced(clock.now(), report.error)
            break
    report.pending, report.lag_s = _backlog(journal)
    report.epoch = journal.state().epoch
    return report


def _pruned_too_soon(journal: Journal, epoch: str) -> JournalPruned | None:
    """The centre needs records this journal has pruned: say so, and send nothing more (the
    centre would take nothing after the gap); a silent stall would leave every later record
    unsent and the compound's pages wrong without a word."""
    missing = journal.first_missing()
    if missing is None:
        return None
    return JournalPruned(
        f"the centre lacks this gate's records from seq {missing} on (epoch {epoch}), which "
        "this gate pruned after the centre had acknowledged them: was the centre restored from "
        "a backup older than [centre] journal_days? Restore it from a newer one; until then "
        "nothing more of this gate reaches it")


def _backlog(journal: Journal) -> tuple[int, float | None]:
    """Records not yet acknowledged, and the age of the oldest in seconds (the journal's times
    are the gate's wall clock, so this is too: SHELF_NOW fakes the shelf's days, not this)."""
    pending, oldest = journal.backlog()
    age = (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds() if oldest else None
    return pending, None if age is None else round(max(0.0, age), 1)


def _acknowledge(journal: Journal, acked: int, records: list[Record], answer: dict[str, Any],
                 report: SyncReport) -> bool:
    """Take in what the centre holds; True when the journal moved (go on pushing)."""
    rewound = answer.get("rewound")
    if rewound:
        epoch = journal.rewind_epoch(rewound["epoch"], int(rewound["from"]))
        log.warning("sync: the centre holds other records of epoch %s from %d on (this store "
                    "was copied back): this store's own go on under the new epoch %s",
                    rewound["epoch"], rewound["from"], epoch)
        report.rewound.append({"epoch": rewound["epoch"], "from": rewound["from"],
                               "new_epoch": epoch})
        return True
    applied = answer.get("applied")
    if not records or not applied or applied["epoch"] != records[0].epoch:
        return False
    through = min(int(applied["through"]), records[-1].seq)
    journal.acknowledge(through)
    report.pushed += int(applied.get("new") or 0)
    return through != acked


def _request(conn: sqlite3.Connection, config: Config, journal: Journal,
             records: list[Record], clock: Clock) -> dict[str, Any]:
    state = journal.state()
    pending, lag_s = _backlog(journal)
    oldest = journal.backlog()[1]
    health = kiosk_health(conn, clock.now())
    assert config.gate is not None  # a gate of a compound (kiosk.config checks [centre])
    return {
        "protocol": PROTOCOL, "schema": len(load("sqlite")),
        "community": config.community.id, "gate": config.gate.id,
        "epoch": state.epoch, "parent": state.parent, "base": state.base,
        "holds": state.holds, "commands_applied": state.commands,
        "batch": {"epoch": records[0].epoch, "records": [r.as_json() for r in records]}
        if records else None,
        "status": {"pending": pending, "oldest_pending_at": oldest, "lag_s": lag_s,
                   "teams": [t.id for t in config.teams], "reported_at": clock.now().isoformat(),
                   "names": names_in_languages(gate=config.gate.name)["gate"],
                   "layout": _layout(conn, config),  # the compound's shelf draws this grid
                   **{k: health[k] for k in ("camera_lost", "kiosk_heartbeat_age_s",
                                             "last_frame_at", "outbox_pending",
                                             "outbox_failed", "last_backup_at")}},
    }


def _layout(conn: sqlite3.Connection, config: Config) -> dict[str, Any]:
    """The gate's slots, its shelves' and its overflow place's names in every language."""
    layout = config.layout
    return {"slots": slot_layout(conn),
            "shelves": names_in_languages(**{s.id: s.name for s in layout.shelves}),
            "overflow": names_in_languages(overflow=layout.overflow_name)["overflow"]}


def run_sync(conn: sqlite3.Connection, config: Config, link: Link, clock: Clock,
             stop: threading.Event, *, wait: Callable[[float], object] | None = None) -> None:
    """Sync now and every ``[centre] sync_seconds`` until ``stop``; after a failure, wait
    twice as long each time (up to 30 times as long, then that long for as long as the centre
    is away: it is tried again however many days that takes), then the usual period again.

    The journal is pruned at the start and every hour (``PRUNE_EVERY`` on ``clock``).
    ``wait(seconds)`` is ``stop.wait`` unless given (the tests' days pass in a moment).
    """
    assert config.centre is not None
    period, pause = config.centre.sync_s, wait or stop.wait
    journal_kept = timedelta(days=config.centre.journal_days)
    failures, pruned_at = 0, None
    while not stop.is_set():
        try:
            report = sync_once(conn, config, link, clock)
            failures = failures + 1 if report.centre != "reachable" else 0
        except Exception:  # one bad pass must not end the sync: logged, tried again later
            log.exception("sync: the pass failed; trying again later")
            failures += 1
        now = clock.now()
        if pruned_at is None or now - pruned_at >= PRUNE_EVERY:
            pruned_at = now
            try:
                pruned = Journal(conn).prune(now - journal_kept)
                if pruned:
                    log.info("sync: pruned %d records the centre has held for %d days",
                             pruned, journal_kept.days)
            except Exception:  # the push matters more: pruned again next hour
                log.exception("sync: pruning the journal failed")
        pause(period * min(2 ** min(failures, 16), BACKOFF_LIMIT) if failures else period)
