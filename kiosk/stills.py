"""How long the camera's stills are kept: deleted after ``[kiosk] stills_days``, a batch at a time.

A still is a picture from the gate's camera (the courier's or resident's hands, sometimes a
face). The kiosk deletes each one when it is ``stills_days`` old: at start and then hourly
(``run_pruner``), and `shelf stills prune` does the same on demand. Each batch is its own short
transaction, so a check-in waiting for the store waits at most one batch.
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

PRUNE_BATCH = 50  # stills deleted per transaction (~1 MB of pages freed)
PRUNE_EVERY_S = 3600.0
PAUSE_BETWEEN_BATCHES_S = 0.05  # the scanner's writes get the store between two batches


@dataclass(frozen=True)
class PruneReport:
    """What one prune did: how many stills it deleted, taken before when."""

    deleted: int
    days: int
    before: datetime

    def as_json(self) -> dict[str, object]:
        """The shape of `shelf stills prune --json`."""
        return {"deleted": self.deleted, "days": self.days, "before": iso(self.before)}


def prune_stills(uow: UnitOfWork, clock: Clock, days: int, *, batch: int = PRUNE_BATCH,
                 pause: Callable[[], object] = lambda: None) -> PruneReport:
    """Delete every still taken more than ``days`` days ago (0: every still), oldest first.

    ``pause`` runs between two full batches (the kiosk waits a moment there).
    """
    now = clock.now()
    before = now - timedelta(days=days)
    deleted = 0
    while True:
        with uow:
            done = uow.stills.prune(before, now, batch)
        deleted += done
        if done < batch:
            break
        pause()
    if deleted:
        log.info("deleted %d still(s) taken before %s (kept %d days)", deleted, iso(before),
                 days)
    return PruneReport(deleted, days, before)


def run_pruner(uow: UnitOfWork, clock: Clock, days: int, stop: threading.Event, *,
               every_s: float = PRUNE_EVERY_S) -> None:
    """Prune now, then every ``every_s`` seconds until ``stop`` is set; never raise.

    Give it a unit of work on its own connection. A busy store waits for the next round. The
    first prune runs even when ``stop`` is already set (a replayed camera may end at once).
    """
    while True:
        try:
            prune_stills(uow, clock, days, pause=lambda: stop.wait(PAUSE_BETWEEN_BATCHES_S))
        except StoreUnavailable as exc:
            log.warning("could not delete old stills now (%s); trying again in %.0f s", exc,
                        every_s)
        except Exception:  # a bug here must not end the kiosk: stills wait for the next round
            log.exception("deleting old stills failed; trying again in %.0f s", every_s)
        if stop.wait(every_s):
            return
