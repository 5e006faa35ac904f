"""The kiosk loop: frame -> decode -> debounce -> service -> lights and buzzer.

The LEDs are a projection of the database: after every action and once a second the loop asks
the store which slots should be lit and shows exactly that, so a restarted kiosk (or one that
lost power mid-blink) comes back right by itself. A locked or failing store never ends the loop:
it backs off, says so in the log, and tries the same label again while it is still in view.
A full disk lasts longer than a lock: each label is refused with a warning beep, the retries
back off, and the log says so at most once a minute.

The camera is read on threads of its own (``kiosk.grabber``): the loop always decodes the newest
frame and acts on the first one that reads. A live camera that is lost is reopened there; the
loop records ``camera_lost`` and ``camera_back`` for the gate screen, and keeps the lights right
meanwhile (a pickup typed on the keypad still blinks its slot).

Slots with a button (``kiosk.placing``): every turn the loop takes the presses noted since the
last, acts on each in its own transaction and answers at once: a short beep for the right
slot, the warning beeps and the alarm blink for a wrong one. A press ends the loop's wait for
a frame at once (``Grabber.nudge``), so it is answered without waiting for the camera.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kiosk.domain import mask_household
from kiosk.errors import StorageFull, StoreUnavailable
from kiosk.grabber import Grabber, Recovery
from kiosk.outcome import Outcome
from kiosk.placing import Press, press, record_unplaced
from kiosk.ports import (
    Buzzer,
    Clock,
    Decoder,
    Frame,
    FrameSource,
    SlotButtons,
    SlotLights,
    StillEncoder,
    UnitOfWork,
)
from kiosk.services import Rules, act_on_payload

log = logging.getLogger(__name__)

ACTOR = "kiosk"  # who records what became of the camera
IDLE_WAIT_S = 0.25  # the longest wait for a frame before the loop looks at the lights again


class Debouncer:
    """A code held in view acts once; it acts again only after leaving the view for a while."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.last_seen: dict[bytes, float] = {}

    def fresh(self, data: bytes, now: float) -> bool:
        """Record a sighting of ``data`` at ``now``; True when it should act."""
        previous = self.last_seen.get(data)
        self.last_seen[data] = now
        if len(self.last_seen) > 256:  # forget codes long out of view
            self.last_seen = {k: t for k, t in self.last_seen.items() if now - t <= self.hold_s}
        return previous is None or now - previous > self.hold_s

    def forget(self, data: bytes) -> None:
        """Let ``data`` act again on its next sighting (its last action decided nothing)."""
        self.last_seen.pop(data, None)


class Scanner:
    """Owns the camera, the decoder, the lights and the buzzer of one kiosk."""

    FIRST_BACKOFF_S = 0.1
    MAX_BACKOFF_S = 2.0
    FULL_LOG_EVERY_S = 60.0

    def __init__(self, *, source: FrameSource | None, decoder: Decoder, lights: SlotLights,
                 buzzer: Buzzer, uow: UnitOfWork, rules: Rules, clock: Clock,
                 debounce_s: float, on_result: Callable[[Outcome], None] | None = None,
                 refresh_s: float = 1.0, stills: StillEncoder | None = None,
                 recovery: Recovery | None = None,
                 on_tick: Callable[[], None] | None = None, camera_missing: str = "",
                 buttons: SlotButtons | None = None,
                 viewer: Callable[[Frame], object] | None = None) -> None:
        self.source, self.decoder, self.lights, self.buzzer = source, decoder, lights, buzzer
        self.buttons = buttons  # None: no slot has a button
        self.viewer = viewer  # offered each frame decoded (kiosk.camera_view); None: no view
        self.uow, self.rules, self.clock = uow, rules, clock
        self.debouncer = Debouncer(debounce_s)
        self.on_result = on_result or (lambda result: None)
        self.refresh_s = refresh_s
        self.backoff_s = 0.0  # > 0 while the store keeps failing
        self._next_refresh = 0.0
        self._failures = 0  # store failures (locked, full) since the last decided action
        self._full = False  # the last failure was a full disk
        self._next_full_log = 0.0
        self.stills = stills  # None: no still is kept ([kiosk] stills_days = 0)
        self.recovery = recovery  # how a live camera is reopened; None: its end ends the run
        self.camera_missing = camera_missing  # why source is None: not there at start
        self.grabbed = self.dropped = 0  # frames the last run read, and those it had no time for
        self._camera_news: list[tuple[str, str]] = []  # not yet recorded (the store was busy)
        self._source_stuck = False  # its read never returned: closing it could block too
        # For the watchdog: the loop calls on_tick once a turn; these say how it fares
        # (monotonic times; None: not yet).
        self.on_tick = on_tick or (lambda: None)
        self.last_frame_at: float | None = None
        self.store_answered_at: float | None = None
        self.camera_away = ""  # why the camera is away while it is reopened ("": it delivers)

    def process_frame(self, frame: Frame, *, debounce: bool = True) -> list[Outcome]:
        """Decode one frame and act on every new code in it, keeping the frame's still."""
        results = []
        still: bytes | None = None  # encoded once, for the first code in it that acts
        for symbol in self.decoder.decode(frame):
            if debounce and not self.debouncer.fresh(symbol.data, self.clock.monotonic()):
                continue
            if still is None:
                still = self._still(frame)
            with self.uow.stills.attached(still or None):  # stored with the events it records
                result = act_on_payload(symbol.data, self.uow, self.rules, self.clock,
                                        kind=symbol.kind)
            self._feedback(result)
            if result.retryable or result.error == StorageFull.code:
                self.debouncer.forget(symbol.data)  # nothing was decided: act again if in view
                self._store_failed(result.message or "", full=result.error == StorageFull.code)
            elif self._failures:
                if self._full:
                    log.info("the storage saves again: check-ins are back to normal")
                self._failures, self._full, self._next_full_log = 0, False, 0.0
            results.append(result)
        return results

    def _still(self, frame: Frame) -> bytes:
        """The frame as a small JPEG, encoded before the transaction (b"": none kept)."""
        if self.stills is None:
            return b""
        try:
            return self.stills.encode(frame)
        except Exception:  # a still is evidence, not the job: the scan goes on without it
            log.exception("could not encode the scan's still; acting without one")
            return b""

    def _feedback(self, result: Outcome) -> None:
        self.refresh_lights()  # the service has committed: show what the store now says
        if result.action == "rejected":
            self.buzzer.warn()
            if result.error != StorageFull.code:  # that one is logged once a minute
                log.info("refused: %s", result.message)
        elif result.action == "needs_room":
            self.buzzer.confirm()  # read; the gate's screen asks the courier for the room
            log.info("carrier code read; the courier is asked for the %s",
                     "waybill's phone (it was announced)" if result.announced else "room")
        else:
            self.buzzer.confirm()
            log.info("%s %s -> %s%s", result.action, mask_household(result.household or ""),
                     ", ".join(result.slots), " (again)" if result.repeat else "")
        self.on_result(result)

    def handle_presses(self) -> list[Press]:
        """Act on every button pressed since the last call, in order, and answer each."""
        if self.buttons is None:
            return []
        done = []
        for slot in self.buttons.presses():
            try:
                result = press(slot, self.uow, self.rules, self.clock)
            except StoreUnavailable as exc:  # the press is lost: the slot stays lit, press again
                self._store_failed(str(exc))
                continue
            done.append(result)
            if result.action == "idle":
                log.debug("button of %s pressed; nothing waits for it", slot)
                continue
            self.refresh_lights()
            if result.action == "wrong":
                self.buzzer.warn()
                log.warning("button of %s pressed; %s was meant", slot, result.expected)
            else:
                self.buzzer.confirm()
                log.info("%s confirmed %s", slot, result.action)
        return done

    def refresh_lights(self) -> None:
        """Show what the store says should be lit; keep the last lights while it cannot say."""
        self._next_refresh = self.clock.monotonic() + self.refresh_s
        try:
            if self.buttons is not None and self.buttons.slots:
                late = record_unplaced(self.uow, self.rules, self.clock)
                if late:
                    log.warning("%d parcel(s) not confirmed on the shelf", len(late))
            lit = self.uow.signals.active(self.clock.now())
        except StoreUnavailable as exc:
            self._store_failed(str(exc))
            return
        # The store answers: no wait between frames now; failures in a row still count, so a
        # label that keeps failing backs off longer each time.
        self.backoff_s = 0.0
        self.store_answered_at = self._next_refresh - self.refresh_s
        self.lights.show(lit)

    def _store_failed(self, reason: str, *, full: bool = False) -> None:
        """Back off longer with each failure in a row (until an action is decided again).

        A lock is logged each time; a full disk lasts, so it is said at most once a minute.
        """
        self._failures += 1
        self._full = full
        self.backoff_s = min(self.FIRST_BACKOFF_S * 2 ** min(self._failures - 1, 8),
                             self.MAX_BACKOFF_S)
        if not full:
            log.warning("the store is unavailable (%s); backing off %.1f s", reason,
                        self.backoff_s)
            return
        now = self.clock.monotonic()
        if now >= self._next_full_log:
            self._next_full_log = now + self.FULL_LOG_EVERY_S
            log.error("the disk that holds the database is full: every check-in is refused "
                      "until space is freed there; retrying (%s)", reason)

    def run(self, stop: threading.Event) -> int:
        """Scan the newest frame until the source ends or ``stop`` is set; return frames decoded.

        A replay's failed read is raised here once the camera threads have stopped.
        """
        frames = 0
        self.refresh_lights()
        grabber = Grabber(self.source, stop=stop, recovery=self.recovery,
                          lost=self._camera_was_lost(), missing=self.camera_missing)
        grabber.start()
        if self.buttons is not None:
            self.buttons.on_press = grabber.nudge
        try:
            while not stop.is_set():
                grabbed = grabber.take(self._idle_wait())
                self._record_camera_news(grabber.news())
                self.handle_presses()
                if grabbed is not None:
                    frames += 1
                    self.last_frame_at = self.clock.monotonic()
                    self.process_frame(grabbed.frame)
                    if self.viewer is not None:
                        self.viewer(grabbed.frame)
                elif grabber.finished:
                    break
                if self.clock.monotonic() >= self._next_refresh:
                    self.refresh_lights()
                self.camera_away = grabber.away
                self.on_tick()
                if self.backoff_s:
                    stop.wait(self.backoff_s)
        finally:
            if self.buttons is not None:
                self.buttons.on_press = None
            self._source_stuck = not grabber.stop()
            self.source = grabber.source  # the camera reopened last is the one to close
            self.grabbed, self.dropped = grabber.grabbed, grabber.dropped
        self._record_camera_news(grabber.news())
        if grabber.error is not None:
            raise grabber.error
        return frames

    def _idle_wait(self) -> float:
        """How long to wait for a frame: not past the next refresh of the lights."""
        return min(IDLE_WAIT_S, max(0.0, self._next_refresh - self.clock.monotonic()))

    def _camera_was_lost(self) -> bool:
        """True when the store last heard that the camera was lost (say so when it works)."""
        try:
            return self.uow.events.camera_lost()
        except StoreUnavailable:
            return False

    def _record_camera_news(self, news: list[tuple[str, str]]) -> None:
        """Record camera_lost / camera_back for the gate screen; a busy store gets them later."""
        self._camera_news += news
        while self._camera_news:
            kind, why = self._camera_news[0]
            try:
                with self.uow:
                    self.uow.events.add(kind, ACTOR, self.clock.now(), **({"reason": why}
                                                                         if why else {}))
            except StoreUnavailable as exc:
                log.debug("%s not recorded yet (%s); trying again", kind, exc)
                return
            self._camera_news.pop(0)

    def close(self) -> None:
        """Darken every LED and release the hardware."""
        source = () if self._source_stuck or self.source is None else (self.source,)
        buttons = () if self.buttons is None else (self.buttons,)
        parts = (self.lights, self.buzzer) + buttons + source
        for part in parts:
            try:
                part.close()
            except Exception:  # one stuck part must not keep the others from closing
                log.exception("closing %s failed", type(part).__name__)
