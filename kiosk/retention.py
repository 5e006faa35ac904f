"""What the shelf keeps for a while only: the camera's stills and the lists uploaded.

A still is a picture from the gate's camera (the courier's or resident's hands, sometimes a
face), deleted when it is ``[kiosk] stills_days`` old; an uploaded list (a household list
carries every resident's phone and e-mail) has its bytes deleted when it is ``[web]
uploads_days`` old, the register keeping its fingerprint and counts. The kiosk deletes both at
start and then hourly (``run_pruner``), and `shelf stills prune` does the same on demand. Each
batch is its own short transaction, so a check-in waiting for the store waits at most one batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.errors import StoreUnavailable
from kiosk.ports import Clock, UnitOfWork
from kiosk.timefmt import iso

log = logging.getLogger(__name__)

PRUNE_BATCH = 50  # stills (~1 MB of pages freed) or uploads deleted per transaction
PRUNE_EVERY_S = 3600.0
PAUSE_BETWEEN_BATCHES_S = 0.05  # the scanner's writes get the store between two batches

# One batch of deletions: (unit of work, taken or kept before, now, at most) -> how many.
Batch = Callable[[UnitOfWork, datetime, datetime, int], int]


@dataclass(frozen=True)
class PruneReport:
    """What one prune did: how many it deleted, taken (or kept) before when."""

    deleted: int
    days: int
    before: datetime

    def as_json(self) -> dict[str, object]:
        """The shape of `shelf stills prune --json` (and of its "uploads")."""
        return {"deleted": self.deleted, "days": self.days, "before": iso(self.before)}


def prune_stills(uow: UnitOfWork, clock: Clock, days: int, *, batch: int = PRUNE_BATCH,
                 pause: Callable[[], object] = lambda: None) -> PruneReport:
    """Delete every still taken more than ``days`` days ago (0: every still), oldest first.

    ``pause`` runs between two full batches (the kiosk waits a moment there).
    """
    return _prune("still(s) taken", _stills, uow, clock, days, batch, pause)


def prune_uploads(uow: UnitOfWork, clock: Clock, days: int, *, batch: int = PRUNE_BATCH,
                  pause: Callable[[], object] = lambda: None) -> PruneReport:
    """Delete the bytes of every list uploaded (observation and household lists) more than
    ``days`` days ago, oldest first; what the register says of them stays."""
    return _prune("uploaded list(s) kept since", _uploads, uow, clock, days, batch, pause)


def _stills(uow: UnitOfWork, before: datetime, now: datetime, limit: int) -> int:
    return uow.stills.prune(before, now, limit)


def _uploads(uow: UnitOfWork, before: datetime, now: datetime, limit: int) -> int:
    done = uow.observation.files.prune(before, now, limit)
    return done + uow.households.files.prune(before, now, limit - done)


def _prune(what: str, batch_of: Batch, uow: UnitOfWork, clock: Clock, days: int, batch: int,
           pause: Callable[[], object]) -> PruneReport:
    now = clock.now()
    before = now - timedelta(days=days)
    deleted = 0
    while True:
        with uow:
            done = batch_of(uow, before, now, batch)
        deleted += done
        if done < batch:
            break
        pause()
    if deleted:
        log.info("deleted %d %s before %s (kept %d days)", deleted, what, iso(before), days)
    return PruneReport(deleted, days, before)


def run_pruner(uow: UnitOfWork, clock: Clock, stills_days: int, uploads_days: int,
               stop: threading.Event, *, every_s: float = PRUNE_EVERY_S) -> None:
    """Prune stills and uploads now, then every ``every_s`` seconds until ``stop`` is set;
    never raise.

    Give it a unit of work on its own connection. A busy store waits for the next round. The
    first prune runs even when ``stop`` is already set (a replayed camera may end at once).
    """
    def pause() -> None:
        stop.wait(PAUSE_BETWEEN_BATCHES_S)

    while True:
        try:
            prune_stills(uow, clock, stills_days, pause=pause)
            prune_uploads(uow, clock, uploads_days, pause=pause)
        except StoreUnavailable as exc:
            log.warning("could not delete old stills and uploads now (%s); trying again in "
                        "%.0f s", exc, every_s)
        except Exception:  # a bug here must not end the kiosk: they wait for the next round
            log.exception("deleting old stills and uploads failed; trying again in %.0f s",
                          every_s)
        if stop.wait(every_s):
            return
