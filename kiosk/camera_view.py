"""The camera view: while a staff page asks, the kiosk shows it what the camera sees.

The kiosk loop offers each frame it decoded (``CameraViewer.offer``); about once a second, and
only while the page has asked within the last seconds (``kiosk.store.camera_view``), the
newest is looked at (``CameraLook``: a JPEG and hardware.aiming's figures) and written to the
store for the page to fetch. The camera stays the kiosk's: the web site never opens it.
Nothing here may stop a check-in: a failure is logged and the next frame offered.
"""

from __future__ import annotations

import logging
import sqlite3

from kiosk.ports import CameraLook, Clock, Frame
from kiosk.store.camera_view import publish_view, view_wanted

log = logging.getLogger(__name__)
EVERY_S = 1.0  # a frame a second: enough to aim by, nothing the kiosk notices


class CameraViewer:
    def __init__(self, conn: sqlite3.Connection, looker: CameraLook, clock: Clock,
                 every_s: float = EVERY_S) -> None:
        self.conn, self.looker, self.clock, self.every_s = conn, looker, clock, every_s
        self._next = 0.0  # monotonic: when to ask the store again

    def offer(self, frame: Frame) -> bool:
        """Publish ``frame`` if a page wants it and a second has passed; whether it was."""
        now = self.clock.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every_s
        try:
            if not view_wanted(self.conn, self.clock.now()):
                return False
            jpeg, sight = self.looker.look(frame)
            publish_view(self.conn, self.clock.now(), jpeg, sight)
        except Exception:  # noqa: BLE001 - the view helps an installer; scanning goes on
            log.exception("could not publish the camera view; scanning goes on")
            return False
        return True
