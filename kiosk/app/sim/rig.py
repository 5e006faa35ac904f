"""The whole kiosk on a rig: presentations as its camera, its slot LEDs' pins watched.

The kiosk is built as ``shelf run`` builds it (``build_scanner``: the wired decoder, a real
SQLite store, gpiozero's mock pins) and scans a ``PresentationCamera``. Each shelf-A slot's
pin notes when it goes high: which frame the camera had handed over by then (frames-to-LED)
and how long after the frame that was acted on was handed over (scan-to-LED, the commit
included). Between presentations the parcel just checked in is taken off the shelf and the
clock moves on, so every presentation finds a dark LED and a free slot, as a gate does.

Used by ``bench/presentations.py`` and the tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory, MockPin

from hardware.decoder import ZbarDecoder
from kiosk.app.sim.presentations import (
    DEFAULT_FPS,
    Presentation,
    PresentationCamera,
    frames,
    readable_by_any,
)
from kiosk.app.wiring import build_scanner
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.outcome import Outcome
from kiosk.ports import Frame, Symbol
from kiosk.store import SqliteUnitOfWork

LIGHT_GAP_S = 5  # the clock moves this much past a slot's light between two presentations


class WatchedPin(MockPin):
    """A mock pin that calls ``on_high()`` when it goes high."""

    on_high = None

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and value and self.on_high is not None:
            self.on_high()
        return changed


@dataclass
class Score:
    """How the kiosk did on one presentation (frame numbers count from its first frame)."""

    kind: str
    frames: int
    read: bool = False
    first_readable: int | None = None  # the first frame any decoder reads
    first_own: int | None = None  # the first frame the kiosk's own decoder reads
    acted_on: int | None = None  # the frame the kiosk checked the parcel in from
    led_at: int | None = None  # the newest frame handed over when the slot's LED went high
    scan_to_led_s: float | None = None  # acted-on frame handed over -> LED pin high
    outcomes: list[str] = field(default_factory=list)
    camera: tuple[int, int] = (640, 480)  # the frames' width and height

    @property
    def frames_to_led(self) -> int | None:
        """Frames from the first one any decoder reads to the one handed over at the LED."""
        if self.led_at is None or self.first_readable is None:
            return None
        return self.led_at - self.first_readable

    @property
    def own_frames_to_led(self) -> int | None:
        """The same from the first frame the kiosk's own decoder reads: what the loop adds."""
        if self.led_at is None or self.first_own is None:
            return None
        return self.led_at - self.first_own


@dataclass
class RigRun:
    scores: list[Score]
    decoded: int
    grabbed: int
    dropped: int


class _WatchedDecoder:
    """The wired decoder, noting which frame it is working on (the one an LED comes from)."""

    def __init__(self, inner) -> None:
        self.inner, self.frame = inner, None
        self.read: dict[int, set[bytes]] = {}  # frame number -> payloads found
        self.camera: PresentationCamera | None = None

    def decode(self, frame: Frame) -> list[Symbol]:
        self.frame = frame
        symbols = self.inner.decode(frame)
        number = self.camera.number_of(frame) if self.camera else None
        if number is not None:
            self.read[number] = {s.data for s in symbols}
        return symbols


def watched_households(config: Config) -> list[str]:
    """One household per slot of the shelves driven by GPIO pins (whose LEDs can be watched),
    none under home observation (their parcels go to the door, not to a lit slot)."""
    conn = open_store(config)
    try:
        households = SqliteUnitOfWork(conn).households.all()
    finally:
        conn.close()
    chosen: dict[str, str] = {}
    for shelf in config.layout.shelves:
        for slot in shelf.slots if shelf.leds == "gpio" else ():
            for household in households:
                if not household.under_observation and slot.serves(household.id.building):
                    chosen.setdefault(slot.code, str(household.id))
    return list(chosen.values())


def labels(config: Config, count: int, *, prefix: str = "P") -> list[str]:
    """``count`` parcel labels for the watched households in turn, each a new parcel."""
    households = watched_households(config)
    return [make_label(config.label_secret, HouseholdId.parse(households[i % len(households)]),
                       f"{prefix}{i:06d}") for i in range(count)]


class Rig:
    """Run presentations through the kiosk; ``paced``: at the camera's rate, else frame by frame."""

    def __init__(self, config: Config, presentations: Sequence[Presentation], *,
                 paced: bool, fps: int = DEFAULT_FPS) -> None:
        self.config, self.presentations, self.paced = config, presentations, paced
        self.clock = ManualClock()
        self.scores = [Score(p.kind, p.frames_count, camera=p.camera) for p in presentations]
        self.camera = PresentationCamera(presentations, fps=fps, paced=paced,
                                         between=self._between, tail_frames=3 if paced else 0)
        # Frame by frame, each presentation's first readable frame is found from the frames
        # kept as they were shown; paced, after the run (no work beside the kiosk meanwhile).
        self.camera.keep = not paced
        self._local = threading.local()  # the camera's own store connection (its thread's)
        self._decoder: _WatchedDecoder | None = None
        self._checked: set[int] = set()  # presentations whose first readable frame is known

    def run(self) -> RigRun:
        factory = MockFactory(pin_class=WatchedPin)
        conn = open_store(self.config)
        scanner = build_scanner(self.config, conn, self.clock, source=self.camera,
                                pin_factory=factory, on_result=self._on_result)
        decoder = self._decoder = _WatchedDecoder(scanner.decoder)
        decoder.camera, scanner.decoder = self.camera, decoder
        self._watch_pins(factory, decoder)
        try:
            decoded = scanner.run(threading.Event())
        finally:
            scanner.close()
            conn.close()
            factory.close()
        for index in range(len(self.camera.starts)):
            if index not in self._checked:
                shown = self.camera.shown if self.camera.keep and index == self.camera.current \
                    else frames(self.presentations[index])
                self._first_readable(index, shown)
        return RigRun(self.scores, decoded, scanner.grabbed, scanner.dropped)

    def _watch_pins(self, factory: MockFactory, decoder: _WatchedDecoder) -> None:
        for shelf in self.config.layout.shelves:
            if shelf.leds == "gpio":
                for pin in shelf.led_of.values():
                    factory.pin(pin).on_high = lambda: self._lit(decoder)

    def _lit(self, decoder: _WatchedDecoder) -> None:
        """A slot's LED went high: note the frames, and let the camera move on."""
        camera = self.camera
        acted = camera.number_of(decoder.frame) if decoder.frame is not None else None
        if acted is None:
            return
        index = camera.presentation_of(acted)
        score, start = self.scores[index], camera.starts[index]
        if score.read:
            return
        score.read, score.acted_on, score.led_at = True, acted - start, camera.delivered - start
        score.scan_to_led_s = time.perf_counter() - camera.handed_at[acted]
        if index == camera.current:
            camera.done()

    def _on_result(self, outcome: Outcome) -> None:
        """Note what the kiosk did, with the presentation of the frame it did it from."""
        frame = self._decoder.frame if self._decoder else None
        number = self.camera.number_of(frame) if frame is not None else None
        if number is not None:
            self.scores[self.camera.presentation_of(number)].outcomes.append(outcome.action)

    def _between(self, index: int) -> None:
        """Let the lights expire, and take the parcel before last off the shelf.

        Not the last one: its last frames may still be in the kiosk's hands (paced), and a
        parcel must not be collected under a label still being read.
        """
        if index == 0:
            return
        if self.camera.keep:
            self._first_readable(index - 1, self.camera.shown)
        self.clock.advance(self.config.kiosk.light_s + LIGHT_GAP_S)
        if index < 2:
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_store(self.config)
        uow = SqliteUnitOfWork(conn)
        household = self.presentations[index - 2].payload.split(":")[1]
        with uow:
            for parcel in uow.parcels.waiting_for(household):
                uow.parcels.close(parcel.id, self.clock.now())

    def _first_readable(self, index: int, shown) -> None:
        """The first of presentation ``index``'s frames that any decoder reads, and the first
        that the kiosk's own decoder reads, up to the frame it acted on.

        What the kiosk's decoder found on a frame it decoded counts as it is; frames it had
        no time for (paced) are decoded here. zxing-cpp and ZBar are asked whether any decoder
        reads a frame; ZBar not twice: where the kiosk's decoder is ZBar itself and decoded
        the frame, its answer was ZBar's.
        """
        self._checked.add(index)
        presentation, score = self.presentations[index], self.scores[index]
        last = score.acted_on if score.acted_on is not None else presentation.frames_count - 1
        start, payload = self.camera.starts[index], presentation.payload.encode()
        decoder = self._decoder
        assert decoder is not None
        kiosk_is_zbar = type(decoder.inner) is ZbarDecoder
        for offset, frame in enumerate(shown):
            if offset > last or score.first_own is not None:
                return
            found = decoder.read.get(start + offset)
            own = payload in (found if found is not None else
                              {s.data for s in decoder.inner.decode(frame)})
            if own and score.first_own is None:
                score.first_own = offset
            if score.first_readable is None and (own or readable_by_any(
                    frame, presentation.payload, zbar=not kiosk_is_zbar)):
                score.first_readable = offset
