"""The kiosk tells systemd how it fares: READY, STATUS, WATCHDOG pings, and a heartbeat row.

Called by the scanner's loop once a turn (``Scanner.on_tick``), so a loop that hangs or dies
stops everything here by itself. A ping is sent only while frames keep coming and the store
answers: a camera that is stuck, or a store that stopped answering, lets `WatchdogSec=` run
out and systemd restarts the kiosk (after the camera's own reopening had its chance). A camera
that is not there at start is waited for without holding anything up: the kiosk is READY
(the boot finishes, `systemctl start` returns), STATUS says what it waits for, and the pings
go on while the loop turns and the store answers; `/healthz` says ``camera_lost`` meanwhile.
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
        self._status = ""  # the STATUS= last sent

    def tick(self) -> None:
        """Once a turn of the loop: beat, and tell systemd what holds."""
        now = self.clock.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + self.heartbeat_every_s
            self._beat(now)
        waiting, trouble = self.waiting(), self.trouble(now)
        if not self.ready:
            if trouble and not waiting:  # the first frame is on its way: systemd waits
                return
            self.ready = True
            self._status = self.status(waiting, trouble)
            notify("READY=1", self._status)
            if waiting:
                log.warning("kiosk ready without its camera, which it waits for: %s", waiting)
            else:
                log.info("kiosk ready: the first frame is read and the lights are restored")
        else:
            self._say(self.status(waiting, trouble), trouble)
        if not trouble and self.ping_every_s and now >= self._next_ping:
            self._next_ping = now + self.ping_every_s
            notify("WATCHDOG=1")

    def waiting(self) -> str:
        """Why the camera is awaited, while it has been away since the start ("": it is not)."""
        return self.scanner.camera_away if self.scanner.last_frame_at is None else ""

    @staticmethod
    def status(waiting: str, trouble: str) -> str:
        """The STATUS= line for systemd (`systemctl status shelf-kiosk`)."""
        if trouble:
            return f"STATUS=unwell: {trouble}"
        if waiting:
            return f"STATUS=waiting for the camera: {waiting}"
        return "STATUS=scanning"

    def _say(self, status: str, trouble: str) -> None:
        """Send a STATUS= that changed, and log the change in health."""
        if status == self._status:
            return
        was_unwell = self._status.startswith("STATUS=unwell")
        self._status = status
        notify(status)
        if trouble:
            log.warning("kiosk unwell: %s; the watchdog is not fed meanwhile", trouble)
        elif was_unwell:
            log.info("kiosk well again: the watchdog is fed")
        elif status == "STATUS=scanning":
            log.info("camera found: the kiosk scans")

    def trouble(self, now: float) -> str:
        """Why the kiosk is not well now (empty: it is, or it waits for a camera away at start)."""
        frame, store = self.scanner.last_frame_at, self.scanner.store_answered_at
        if frame is None:
            if not self.waiting():
                return "no frame from the camera yet"
        elif now - frame > self.stale_s:
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
