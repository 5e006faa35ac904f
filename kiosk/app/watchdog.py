"""The kiosk tells systemd how it fares: READY, STATUS, WATCHDOG pings, and a heartbeat row.

Called by the scanner's loop once a turn (``Scanner.on_tick``), so a loop that hangs or dies
stops everything here by itself. A ping is sent only while frames keep coming and the store
answers: a camera that is stuck, or a store that stopped answering, lets `WatchdogSec=` run
out and systemd restarts the kiosk (after the camera's own reopening had its chance). A camera
that is not there at start is waited for: STATUS says so, and EXTEND_TIMEOUT_USEC keeps the
start from timing out (no READY until its first frame).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

from kiosk.app.sdnotify import notify, watchdog_interval
from kiosk.errors import StoreUnavailable
from kiosk.ports import Clock
from kiosk.scanner import Scanner
from kiosk.store import record_heartbeat

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 10.0  # GET /healthz calls the kiosk stale after three missed beats
EXTEND_EVERY_S = 10.0  # while waiting for the camera at start, systemd hears again this often
EXTEND_MARGIN_S = 30.0  # beyond the next back-off: the try itself, and the loop's turns


class KioskWatch:
    """Readiness, the watchdog's pings and the heartbeat of one running kiosk loop."""

    def __init__(self, scanner: Scanner, conn: sqlite3.Connection, clock: Clock, *,
                 stale_s: float, ping_every_s: float | None = None,
                 heartbeat_every_s: float = HEARTBEAT_EVERY_S) -> None:
        self.scanner, self.conn, self.clock = scanner, conn, clock
        self.stale_s = stale_s  # no frame or no answer from the store this long: unwell
        self.ping_every_s = ping_every_s if ping_every_s is not None else watchdog_interval()
        self.heartbeat_every_s = heartbeat_every_s
        self.ready = False
        self._next_ping = self._next_beat = 0.0
        self._trouble = ""  # what was wrong at the last turn
        self._waiting = ""  # the STATUS last sent while waiting for the camera at start
        self._next_extend = 0.0

    def tick(self) -> None:
        """Once a turn of the loop: beat, and tell systemd what holds."""
        now = self.clock.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + self.heartbeat_every_s
            self._beat(now)
        trouble = self.trouble(now)
        if not self.ready:
            if trouble:
                self._wait_for_camera(now)
                return
            self.ready = True
            notify("READY=1", "STATUS=scanning")
            log.info("kiosk ready: the first frame is read and the lights are restored")
        elif trouble != self._trouble:
            notify(f"STATUS=unwell: {trouble}" if trouble else "STATUS=scanning")
            if trouble:
                log.warning("kiosk unwell: %s; the watchdog is not fed meanwhile", trouble)
            else:
                log.info("kiosk well again: the watchdog is fed")
        self._trouble = trouble
        if not trouble and self.ping_every_s and now >= self._next_ping:
            self._next_ping = now + self.ping_every_s
            notify("WATCHDOG=1")

    def _wait_for_camera(self, now: float) -> None:
        """Not ready and the camera away: say why, and extend the start past the next try."""
        away = self.scanner.camera_away
        if not away:
            return
        status = f"STATUS=waiting for the camera: {away}"
        if status == self._waiting and now < self._next_extend:
            return
        self._waiting, self._next_extend = status, now + EXTEND_EVERY_S
        extend_s = self.scanner.camera_next_try_s + EXTEND_MARGIN_S
        notify(status, f"EXTEND_TIMEOUT_USEC={int(extend_s * 1_000_000)}")

    def trouble(self, now: float) -> str:
        """Why the kiosk is not well now (empty: it is)."""
        frame, store = self.scanner.last_frame_at, self.scanner.store_answered_at
        if frame is None:
            return "no frame from the camera yet"
        if now - frame > self.stale_s:
            return f"no frame from the camera for more than {self.stale_s:g} s"
        if store is None or now - store > self.stale_s:
            return "the store does not answer"
        return ""

    def _beat(self, now: float) -> None:
        frame = self.scanner.last_frame_at
        wall = self.clock.now()
        last_frame = None if frame is None else wall - timedelta(seconds=now - frame)
        try:
            record_heartbeat(self.conn, wall, last_frame)
        except StoreUnavailable as exc:  # the lights' refresh says so too, and backs off
            log.debug("heartbeat not written: %s", exc)
