"""The slot buttons: one GPIO pin per slot, or the inputs of a chain of 74HC165 shift registers.

A courier presses the lit slot's button once the parcel is in it; a resident presses the
blinking one once the parcels are out (``kiosk.placing``). An IR break-beam or a reed switch
that pulls its line to ground behaves the same. Every adapter notes each press (a falling
edge: the line goes from high to low) in a queue that the kiosk loop empties with
``presses()``, oldest first; nothing here knows what a press means.

Pull-up and debounce: every input idles high and a press pulls it to ground, so a broken
wire or an unplugged button reads "not pressed", never a press that nobody made.
- One pin per slot: gpiozero's ``Button`` with the Pi's internal pull-up (about 50 kΩ) and
  ``bounce_time`` ``BOUNCE_S``: edges within 50 ms of the last are a switch's contacts
  bouncing, not a second press (a person presses at most a few times a second).
- A 74HC165 chain: each input has its own 10 kΩ pull-up to 3.3 V (a 165 has none inside), and
  the chain is read every ``POLL_S``; a line counts as pressed once it reads low
  ``STABLE_READS`` times in a row, and released once it reads high as often (30 ms): the
  same debounce in software.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from gpiozero import Button, DigitalOutputDevice, InputDevice
from gpiozero.pins import Factory

from kiosk.config import BUTTON_KINDS, Shelf
from kiosk.errors import ConfigError

log = logging.getLogger(__name__)

BOUNCE_S = 0.05  # a switch's contacts settle within a few ms; 50 ms is a press apart
POLL_S = 0.01  # how often a 74HC165 chain is read: 100 times a second
STABLE_READS = 3  # reads in a row a chain input must agree before it counts (30 ms)


class OwnedButtons(Protocol):
    """Buttons that say which slot codes they read, so ShelfButtons can join them."""

    slots: frozenset[str]
    on_press: Callable[[], None] | None

    def presses(self) -> list[str]: ...

    def close(self) -> None: ...


class _Presses:
    """The presses not yet taken, from any thread, oldest first; ``on_press`` is told of each
    (the kiosk loop stops waiting for a frame)."""

    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self.on_press: Callable[[], None] | None = None

    def add(self, code: str) -> None:
        self._queue.append(code)  # deque.append is atomic: safe from gpiozero's threads
        if self.on_press is not None:
            self.on_press()

    def take(self) -> list[str]:
        taken = []
        while self._queue:
            taken.append(self._queue.popleft())
        return taken


class _NotesPresses:
    """What both wirings share: their presses noted in order (``_presses``), taken by the
    kiosk loop, which is told of each."""

    _presses: _Presses

    @property
    def on_press(self) -> Callable[[], None] | None:
        """Called (on the button's thread) after each press is noted."""
        return self._presses.on_press

    @on_press.setter
    def on_press(self, call: Callable[[], None] | None) -> None:
        self._presses.on_press = call

    def presses(self) -> list[str]:
        """The slots pressed since the last call, oldest first."""
        return self._presses.take()


class GpioSlotButtons(_NotesPresses):
    """One button per slot, each between its own GPIO pin (BCM number) and ground."""

    def __init__(self, button_of: Mapping[str, int], pin_factory: Factory | None = None, *,
                 bounce_s: float | None = BOUNCE_S) -> None:
        self._presses = _Presses()
        self._buttons: dict[str, Button] = {}
        try:
            for code, pin in button_of.items():
                button = Button(pin, pull_up=True, bounce_time=bounce_s,
                                pin_factory=pin_factory)
                button.when_pressed = self._noter(code)
                self._buttons[code] = button
        except Exception:
            self.close()
            raise
        self.slots = frozenset(self._buttons)

    def _noter(self, code: str):
        return lambda: self._presses.add(code)

    def close(self) -> None:
        """Release every pin."""
        buttons, self._buttons = self._buttons, {}
        for button in buttons.values():
            button.close()


class ShiftRegisterSlotButtons(_NotesPresses):
    """Buttons on the inputs of a chain of 74HC165s, read by a load, a clock and a data pin.

    Chain position ``p`` is input ``D(p % 8)`` (A = 0 .. H = 7) of chip ``p // 8``; chip 0 is
    the one whose QH output is wired to the data pin, and each further chip's QH feeds the SER
    input of the chip before it (the 74HC595 chain, read backwards). A read pulses load (SH/LD)
    low, which copies every input into the chips at once; then QH shows chip 0's H, and each
    rising clock edge moves the next bit out: chip 0's G .. A, then chip 1's H .. A, and so
    on. Wire CLK INH to ground. A background thread reads the chain every ``POLL_S``.
    """

    def __init__(self, button_of: Mapping[str, int], data: int, clock: int, load: int,
                 pin_factory: Factory | None = None, *, poll_s: float = POLL_S) -> None:
        positions = list(button_of.values())
        if len(set(positions)) != len(positions) or any(p < 0 for p in positions):
            raise ValueError(f"chain positions must be distinct and >= 0: {dict(button_of)}")
        self.slots = frozenset(button_of)
        self._code_at = {position: code for code, position in button_of.items()}
        self.length = 8 * (max(positions, default=0) // 8 + 1)  # whole chips
        self.poll_s = poll_s
        self._presses = _Presses()
        self._devices: list[DigitalOutputDevice | InputDevice] = []
        try:
            # SH/LD idles high (shift); the 165's QH drives the data line: no pull needed.
            self._load = DigitalOutputDevice(load, initial_value=True, pin_factory=pin_factory)
            self._devices.append(self._load)
            self._clock = DigitalOutputDevice(clock, pin_factory=pin_factory)
            self._devices.append(self._clock)
            self._data = InputDevice(data, pull_up=None, active_state=True,
                                     pin_factory=pin_factory)
            self._devices.append(self._data)
        except Exception:
            self._close_devices()
            raise
        self._pressed: set[int] = set()  # positions held down (after debouncing)
        self._runs: dict[int, int] = {}  # position -> reads in a row that disagree with it
        self._faulty = False  # the last read had every button down (said once)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="165-poll", daemon=True)
        self._thread.start()

    def read_chain(self) -> set[int]:
        """The positions whose line reads low (pressed) right now, debounce aside."""
        self._load.off()  # the inputs are copied while SH/LD is low ...
        self._load.on()  # ... and shifted out once it is high again
        low: set[int] = set()
        for index in range(self.length):
            if index:
                self._clock.on()  # the 165 shifts on the clock's rising edge
                self._clock.off()
            if not self._data.value:
                low.add(8 * (index // 8) + 7 - index % 8)
        return low

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                low = self.read_chain()
            except Exception:  # a closed pin while stopping; anything else is logged
                if not self._stop.is_set():
                    log.exception("reading the 74HC165 chain failed")
                return
            self._debounce(low)

    def _debounce(self, low: set[int]) -> None:
        if len(self._code_at) > 1 and low >= self._code_at.keys():
            # Every button at once is no person: an unpowered chain or a data line to ground.
            if not self._faulty:
                self._faulty = True
                log.error("the 74HC165 chain reads every button pressed: check its power, "
                          "its pull-ups and its data line; ignoring it until it reads again")
            return
        self._faulty = False
        for position in self._code_at:
            held = position in self._pressed
            if (position in low) == held:
                self._runs.pop(position, None)
                continue
            self._runs[position] = self._runs.get(position, 0) + 1
            if self._runs[position] < STABLE_READS:
                continue
            del self._runs[position]
            if held:
                self._pressed.discard(position)
            else:
                self._pressed.add(position)
                self._presses.add(self._code_at[position])

    def close(self) -> None:
        """Stop reading and release the three pins."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._close_devices()

    def _close_devices(self) -> None:
        devices, self._devices = self._devices, []
        for device in devices:
            device.close()


class ShelfButtons:
    """The buttons of all shelves as one: presses from every part, in the order taken."""

    def __init__(self, parts: Sequence[OwnedButtons]) -> None:
        self.parts = list(parts)
        seen: set[str] = set()
        for part in self.parts:
            if seen & part.slots:
                raise ValueError(f"slot {min(seen & part.slots)} has two buttons")
            seen |= part.slots
        self.slots = frozenset(seen)
        self._on_press: Callable[[], None] | None = None

    @property
    def on_press(self) -> Callable[[], None] | None:
        """Called (on a button's thread) after each press is noted, whatever its part."""
        return self._on_press

    @on_press.setter
    def on_press(self, call: Callable[[], None] | None) -> None:
        self._on_press = call
        for part in self.parts:
            part.on_press = call

    def presses(self) -> list[str]:
        """The slots pressed since the last call (each part's in its own order)."""
        return [code for part in self.parts for code in part.presses()]

    def close(self) -> None:
        """Close every part, even when one of them fails."""
        for part in self.parts:
            try:
                part.close()
            except Exception:  # one stuck part must not keep the others' pins
                log.exception("closing the buttons %s failed", type(part).__name__)


def shelf_buttons(shelf: Shelf, pin_factory: Factory | None = None) -> OwnedButtons | None:
    """The buttons of one shelf, as its ``buttons`` setting says they are wired; None: none."""
    if not shelf.button_of:
        return None
    if shelf.buttons == "gpio":
        return GpioSlotButtons(shelf.button_of, pin_factory=pin_factory)
    if shelf.buttons == "74hc165":
        pins = shelf.button_pins
        return ShiftRegisterSlotButtons(shelf.button_of, pins["data"], pins["clock"],
                                        pins["load"], pin_factory=pin_factory)
    allowed = ", ".join(repr(kind) for kind in BUTTON_KINDS)
    raise ConfigError(f"shelf {shelf.id}: buttons = {shelf.buttons!r}: allowed values are "
                      f"{allowed}")


def build_buttons(shelves: Iterable[Shelf], pin_factory: Factory | None = None) -> ShelfButtons:
    """The buttons of every shelf; on failure the pins already claimed are released again."""
    parts: list[OwnedButtons] = []
    try:
        for shelf in shelves:
            part = shelf_buttons(shelf, pin_factory)
            if part is not None:
                parts.append(part)
    except Exception:
        ShelfButtons(parts).close()
        raise
    return ShelfButtons(parts)
