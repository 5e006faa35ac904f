"""The camera on a thread of its own, so that the scanner always decodes the newest frame.

A live camera delivers frames whether or not anyone is ready for them. A reader thread puts
each frame into a one-slot mailbox; a frame still untaken when the next one arrives is dropped
(and counted), so the scanner never works through a backlog: it decodes what is in view now.
A source that is not paced (a file read as fast as frames are decoded, a test's list of frames)
is read on the scanner's own thread instead, one frame each time it asks: nothing is dropped.

A live camera that fails (a read returns None or raises) or freezes (one read takes longer than
``freeze_s``) is lost, not finished: it is closed and reopened after 1 s, then after waits
doubling to 30 s, and it is back at the first frame it delivers again. A replay that ends ends
the run. A read that never returns is left on its own daemon thread: it cannot hold up the
kiosk, which goes on with a reopened camera (and a clean stop does not wait for it). A live
camera that could not be opened at start (no source, and why) is waited for the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.ports import Frame, FrameSource

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often the watcher looks for a stop, an ended read or a frozen one
JOIN_S = 2.0  # how long a stop waits for each camera thread before leaving it behind

CAMERA_LOST, CAMERA_BACK = "camera_lost", "camera_back"  # the events the gate screen shows


@dataclass(frozen=True)
class Grabbed:
    """A frame and its number: frames read from the camera since the run began, this one too."""

    index: int
    frame: Frame


@dataclass(frozen=True)
class Recovery:
    """How a live camera is brought back: ``reopen`` opens it anew (or raises).

    ``wait(seconds)`` sleeps between tries; tests pass one that returns at once. A read is
    frozen when ``monotonic()`` has moved on ``freeze_s`` since it began; tests pass a clock
    of their own, so that only a read they freeze is ever found frozen.
    """

    reopen: Callable[[], FrameSource]
    freeze_s: float = 5.0
    first_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    wait: Callable[[float], object] | None = None
    monotonic: Callable[[], float] = time.monotonic


def is_paced(source: FrameSource) -> bool:
    """True for a source that delivers at its own rate (a camera, a video replayed in time)."""
    return bool(getattr(source, "paced", False))


class Mailbox:
    """One slot: a frame put there replaces an untaken one, which is counted as dropped."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._item: Grabbed | None = None
        self._closed = False
        self._nudged = False  # something besides a frame wants the taker (a slot's button)
        self.dropped = 0

    def put(self, item: Grabbed) -> bool:
        """Leave ``item`` for the taker; False once the mailbox is closed."""
        with self._changed:
            if self._closed:
                return False
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._changed.notify_all()
            return True

    def take(self, timeout: float) -> Grabbed | None:
        """The newest item, waiting up to ``timeout`` seconds for one (or a nudge); None when
        there is none."""
        with self._changed:
            if self._item is None and not self._closed and not self._nudged:
                self._changed.wait(timeout)
            item, self._item, self._nudged = self._item, None, False
            return item

    def nudge(self) -> None:
        """End the taker's wait now, or its next one: something else needs it (from any thread)."""
        with self._changed:
            self._nudged = True
            self._changed.notify_all()

    def close(self) -> None:
        """Refuse further items and wake whoever waits; an item already there can still be taken."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def drained(self) -> bool:
        """Closed and empty: nothing will ever come again."""
        with self._changed:
            return self._closed and self._item is None


class _Reader:
    """One thread reading one opened source; abandoned (never joined) once its read froze."""

    def __init__(self, source: FrameSource, target: Callable[[_Reader], None]) -> None:
        self.source = source
        self.reading_since: float | None = None  # Recovery.monotonic() when the read began
        self.ended = threading.Event()
        self.why = ""  # why reading ended
        self.error: Exception | None = None  # what the read raised
        self.abandoned = False
        self.thread = threading.Thread(target=target, args=(self,), name="camera-read",
                                       daemon=True)

    def end(self, why: str, error: Exception | None = None) -> None:
        self.why, self.error = why, error
        self.ended.set()


class Grabber:
    """Reads a FrameSource on its own threads into a Mailbox, and brings a live camera back.

    ``news()`` tells the scanner's thread what became of the camera (``camera_lost`` with its
    reason, ``camera_back``), so that the store is written from that thread alone. ``lost``
    starts the grabber as if the camera had been lost (the last run ended that way): its first
    frame is then news. ``source=None`` (with ``recovery``) is a live camera that could not be
    opened at start, for the reason ``missing``: it is lost from the outset, and reopened.
    """

    def __init__(self, source: FrameSource | None, *, stop: threading.Event,
                 recovery: Recovery | None = None, lost: bool = False,
                 missing: str = "") -> None:
        if source is None and recovery is None:
            raise ValueError("a grabber without a source needs a recovery to open one")
        self.source = source
        self.recovery = recovery
        self.missing = missing
        self.paced = source is None or is_paced(source)
        self.away = ""  # why the camera is away while it is being reopened ("": it delivers)
        self.mailbox = Mailbox()
        self.grabbed = 0  # frames read from the camera
        self.error: Exception | None = None  # what ended a source that is not reopened
        self._stop, self._halt = stop, threading.Event()
        self._lock = threading.Lock()
        self._news: list[tuple[str, str]] = []
        self._lost = lost
        self._backoff_s = 0.0
        self._reader: _Reader | None = None
        self._watcher = threading.Thread(target=self._watch, name="camera", daemon=True)
        self._ended = False  # an unpaced source returned None

    def start(self) -> None:
        if self.paced:
            self._watcher.start()

    def take(self, timeout: float) -> Grabbed | None:
        """The newest frame not yet taken, waiting up to ``timeout`` s; None when there is none.

        An unpaced source is read here and now, on the caller's thread (its errors raise here).
        """
        if self.paced:
            return self.mailbox.take(timeout)
        if self._ended:
            return None
        frame = self.source.read()
        if frame is None:
            self._ended = True
            return None
        self.grabbed += 1
        return Grabbed(self.grabbed, frame)

    def nudge(self) -> None:
        """End the scanner's wait for a frame now (a slot's button was pressed)."""
        self.mailbox.nudge()

    @property
    def finished(self) -> bool:
        """The source ended (a replay) or the grabber stopped, and every frame was taken."""
        return self.mailbox.drained if self.paced else self._ended

    @property
    def dropped(self) -> int:
        """Frames the camera delivered while the scanner was busy with an older one."""
        return self.mailbox.dropped

    def news(self) -> list[tuple[str, str]]:
        """What became of the camera since the last call: ``(kind, reason)``, oldest first."""
        with self._lock:
            news, self._news = self._news, []
        return news

    def stop(self) -> bool:
        """Stop reading and join the camera threads; False when a read is stuck (left behind)."""
        if not self.paced:
            return True
        self._halt.set()
        self.mailbox.close()
        self._watcher.join(JOIN_S)
        reader = self._reader
        if reader is not None and not reader.abandoned:
            reader.thread.join(JOIN_S)
        stuck = self._watcher.is_alive() or (reader is not None and reader.thread.is_alive())
        if stuck:
            log.warning("the camera's read did not return within %.0f s; it is left behind",
                        JOIN_S)
        return not stuck

    # --- the watcher thread --------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._halt.is_set() or self._stop.is_set()

    def _watch(self) -> None:
        try:
            if self.source is None:
                self.source = self._await_camera()
                if self.source is None:
                    return
            while not self._stopping():
                reader = self._reader = _Reader(self.source, self._read)
                reader.thread.start()
                why = self._until_it_ends(reader)
                if why is None:
                    return
                if self.recovery is None:  # a replay's end, or its failure, ends the run
                    self.error = reader.error
                    return
                self._camera_lost(why, reader)
                source = self._reopen()
                if source is None:
                    return
                self.source = source
        finally:
            self.mailbox.close()

    def _until_it_ends(self, reader: _Reader) -> str | None:
        """Why ``reader`` stopped delivering (ended, or froze); None when the grabber stops."""
        freeze_s = self.recovery.freeze_s if self.recovery else None
        while not reader.ended.wait(POLL_S):
            if self._stopping():
                return None
            since = reader.reading_since
            if freeze_s is not None and since is not None and \
                    self._monotonic() - since > freeze_s:
                reader.abandoned = True
                return f"no frame for {freeze_s:g} s"
        return None if self._stopping() else reader.why

    def _await_camera(self) -> FrameSource | None:
        """Open the camera that was not there at start; None when stopping first."""
        if self._note_lost(self.missing):
            log.warning("camera %s; trying again in %g s", self.missing, self._backoff_s)
        else:  # the last run ended with it lost: the gate screen says so already
            log.warning("camera still away (%s); trying again in %g s", self.missing,
                        self._backoff_s)
        return self._reopen()

    def _note_lost(self, why: str) -> bool:
        """Back off longer, and make the loss news unless it is already; True if it was made."""
        assert self.recovery is not None
        recovery = self.recovery
        self._backoff_s = min(recovery.max_backoff_s, max(recovery.first_backoff_s,
                                                          self._backoff_s * 2))
        self.away = why
        with self._lock:
            first = not self._lost
            self._lost = True
            if first:
                self._news.append((CAMERA_LOST, why))
        return first

    def _camera_lost(self, why: str, reader: _Reader) -> None:
        if self._note_lost(why):
            log.warning("camera lost (%s); reopening it in %g s", why, self._backoff_s)
        else:
            log.info("the camera failed again (%s); next try in %g s", why, self._backoff_s)
        if reader.abandoned:
            # Closing may unblock the frozen read, or block too: never on this thread.
            threading.Thread(target=_close, args=(reader.source,), name="camera-close",
                             daemon=True).start()
        else:
            _close(reader.source)

    def _reopen(self) -> FrameSource | None:
        """Open the camera again, waiting longer after each failed try; None when stopping."""
        assert self.recovery is not None
        wait = self.recovery.wait or self._halt.wait
        while True:
            wait(self._backoff_s)
            if self._stopping():
                return None
            try:
                return self.recovery.reopen()
            except Exception as exc:  # whatever the driver raises: still lost, try again
                self._backoff_s = min(self.recovery.max_backoff_s, self._backoff_s * 2)
                log.info("the camera cannot be opened yet (%s); next try in %g s",
                         " ".join(str(exc).split()), self._backoff_s)

    # --- the reader thread ---------------------------------------------------------------

    def _monotonic(self) -> float:
        return self.recovery.monotonic() if self.recovery else time.monotonic()

    def _read(self, reader: _Reader) -> None:
        while not self._stopping():
            reader.reading_since = self._monotonic()
            try:
                frame = reader.source.read()
            except Exception as exc:  # the driver's own error: the camera is lost
                reader.end(f"its read failed: {' '.join(str(exc).split())}", exc)
                return
            finally:
                reader.reading_since = None
            if reader.abandoned:  # a frozen read came back after the camera was given up
                return
            if frame is None:
                reader.end("it delivered no frame" if self.recovery else "the replay ended")
                return
            self._delivered()
            if not self.mailbox.put(Grabbed(self.grabbed, frame)):
                return

    def _delivered(self) -> None:
        self.grabbed += 1
        if not self._lost:
            return
        with self._lock:
            self._lost, self._backoff_s, self.away = False, 0.0, ""
            self._news.append((CAMERA_BACK, ""))
        log.warning("camera back")


def _close(source: FrameSource) -> None:
    try:
        source.close()
    except Exception:  # a camera that is gone may fail to close as well: it is gone anyway
        log.debug("closing the lost camera failed", exc_info=True)
