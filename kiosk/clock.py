"""The real clock (the Clock port), or one set from outside by ``SHELF_NOW``; tests pass their own.

``SHELF_NOW=2026-12-03T21:10:00+08:00 shelf ...`` makes a command start at that moment and run
on from it, so a day (team hours, reminders, back-off, throttles) can be replayed from outside.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from kiosk.errors import ConfigError

NOW_ENV = "SHELF_NOW"

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ShiftedClock:
    """A clock that reads ``start`` when made and then runs at the real pace."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock moved by hand (``advance``): for tests, proofs and replays that set each step."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds


def parse_now(text: str) -> datetime:
    """Read an ISO-8601 time with an offset, e.g. ``2026-12-03T21:10:00+08:00``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(f"{NOW_ENV}={text!r}: expected an ISO-8601 time with an offset, "
                          "e.g. 2026-12-03T21:10:00+08:00")
    return moment


def clock_from_env(environ: Mapping[str, str] | None = None) -> SystemClock | ShiftedClock:
    """The clock every command uses: ``SHELF_NOW`` when set (with a warning), else the real one."""
    text = (os.environ if environ is None else environ).get(NOW_ENV, "")
    if not text.strip():
        return SystemClock()
    start = parse_now(text)
    log.warning("%s is set: the clock starts at %s, not at the real time", NOW_ENV,
                start.isoformat())
    return ShiftedClock(start)
