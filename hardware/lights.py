"""The slot LEDs: one GPIO pin per slot, or the outputs of a chain of 74HC595 shift registers.

``show()`` is called about once a second with the whole picture (which slots are lit, and how),
so every adapter compares it with what it already shows and touches the pins only on a change:
a blinking LED keeps its rhythm. A slot code or mode it does not know is a warning, logged once,
never a crash: one bad slot must not take the kiosk down.

Three modes: ``on`` (a courier puts a parcel in), ``blink`` (a resident takes one out: 2 Hz)
and ``collect`` (staff fetch their door-delivery parcels: two quick flashes, then a rest, once
a second), so the people at the shelf can tell the staff's slots from their own. A fourth,
``alarm`` (4 Hz, twice as fast as ``blink``), marks a slot whose button was pressed by mistake
and the slot meant (``kiosk.placing``). A fifth, ``audit`` (0.75 s on, 0.25 s off: long and
steady-looking, with a beat), marks the slot a shelf audit is checking (``kiosk.audit``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from gpiozero import LED, DigitalOutputDevice
from gpiozero.pins import Factory

from kiosk.config import LED_KINDS, Shelf
from kiosk.errors import ConfigError
from kiosk.ports import LightMode, SlotLights

log = logging.getLogger(__name__)

BLINK_S = 0.25  # on and off time of a blinking LED: 2 Hz, noticeable across a lobby
MODES: tuple[LightMode, ...] = ("on", "blink", "collect", "alarm", "audit")
# The patterned modes, as the LED's state in each step of half ``blink_s`` (0.125 s): "blink"
# is 0.25 s on, 0.25 s off; "collect" flashes twice (0.125 s each) and rests 0.625 s;
# "alarm" is twice as fast as "blink"; "audit" is on 0.75 s, off 0.25 s.
PATTERNS: dict[LightMode, tuple[bool, ...]] = {
    "blink": (True, True, False, False),
    "collect": (True, False, True, False, False, False, False, False),
    "alarm": (True, False),
    "audit": (True, True, True, True, True, True, False, False),
}
SOURCED: tuple[LightMode, ...] = ("collect", "audit")  # on a single pin: stepped by gpiozero


class OwnedLights(SlotLights, Protocol):
    """SlotLights that say which slot codes they drive, so ShelfLights can route to them."""

    slots: frozenset[str]


def _known(states: Mapping[str, LightMode], slots: frozenset[str],
           warned: set[tuple[str, str]]) -> dict[str, LightMode]:
    """Keep the states of slots in ``slots``; warn once about each unknown slot or mode."""
    kept: dict[str, LightMode] = {}
    for code, mode in states.items():
        if code in slots and mode in MODES:
            kept[code] = mode
        elif (code, mode) not in warned:
            warned.add((code, mode))
            if code in slots:
                log.warning("slot %s: unknown light mode %r ignored", code, mode)
            else:
                log.warning("no LED for slot %r: ignored", code)
    return kept


class GpioSlotLights:
    """One LED per slot, each on its own GPIO pin (BCM numbers), blinking with gpiozero."""

    def __init__(self, led_of: Mapping[str, int], pin_factory: Factory | None = None, *,
                 blink_s: float = BLINK_S) -> None:
        self.blink_s = blink_s
        self._leds: dict[str, LED] = {}
        try:
            for code, pin in led_of.items():
                self._leds[code] = LED(pin, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise
        self.slots = frozenset(self._leds)
        self._shown: dict[str, LightMode | None] = dict.fromkeys(self._leds)  # None: dark
        self._warned: set[tuple[str, str]] = set()

    def show(self, states: Mapping[str, LightMode]) -> None:
        """Light exactly these slots; leave an LED alone when its mode has not changed."""
        wanted = _known(states, self.slots, self._warned)
        for code, led in self._leds.items():
            mode = wanted.get(code)
            if mode == self._shown[code]:
                continue  # re-calling blink() would restart its thread and break the rhythm
            if self._shown[code] in SOURCED:
                led.source = None  # stop the pattern's thread before anything else drives it
            if mode == "blink":
                led.blink(on_time=self.blink_s, off_time=self.blink_s)
            elif mode == "alarm":
                led.blink(on_time=self.blink_s / 2, off_time=self.blink_s / 2)
            elif mode in SOURCED:
                # gpiozero's own way to drive an output from a sequence, in its own thread
                led.source_delay = self.blink_s / 2
                led.source = itertools.cycle(PATTERNS[mode])
            elif mode == "on":
                led.on()
            else:
                led.off()
            self._shown[code] = mode

    def close(self) -> None:
        """Switch every LED off and release its pin."""
        leds, self._leds = self._leds, {}
        for led in leds.values():
            led.source = None  # a pattern's thread would switch it on again
            led.off()  # closing alone may leave a pin driven high
            led.close()


class ShiftRegisterSlotLights:
    """LEDs on the outputs of a chain of 74HC595s, driven by a data, a clock and a latch pin.

    Chain position ``p`` is output ``Q(p % 8)`` of chip ``p // 8``; chip 0 is the one whose
    SER input is wired to the data pin, and each chip's Q7' feeds the next chip's SER. A write
    sends the whole chain, highest position first (the pattern as an integer, MSB first), one
    clock pulse per bit, so the first bit travels to the far end and position 0 lands on chip
    0's Q0; then one latch pulse moves all bits to the outputs together. Wire OE to ground
    and MR to 3V3. A background thread steps the patterned positions (``PATTERNS``) in step
    with each other, every half ``blink_s``; the chain is rewritten only when a bit changes.
    """

    def __init__(self, led_of: Mapping[str, int], data: int, clock: int, latch: int,
                 pin_factory: Factory | None = None, *, blink_s: float = BLINK_S) -> None:
        self.blink_s = blink_s
        positions = list(led_of.values())
        if len(set(positions)) != len(positions) or any(p < 0 for p in positions):
            raise ValueError(f"chain positions must be distinct and >= 0: {dict(led_of)}")
        self.slots = frozenset(led_of)
        self._bit = {code: 1 << position for code, position in led_of.items()}
        self.length = 8 * (max(positions, default=0) // 8 + 1)  # whole chips
        self._outputs: list[DigitalOutputDevice] = []
        try:
            for pin in (data, clock, latch):
                self._outputs.append(DigitalOutputDevice(pin, pin_factory=pin_factory))
        except Exception:
            self._close_outputs()
            raise
        self._data, self._clock, self._latch = self._outputs
        self._lock = threading.Lock()  # the blink thread and show() both write the chain
        self._steady = 0
        self._patterned: dict[LightMode, int] = dict.fromkeys(PATTERNS, 0)  # mode -> its bits
        self._step = 0  # where the patterns are, in steps of half blink_s
        self._written: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[tuple[str, str]] = set()
        with self._lock:
            self._refresh()  # a 595's outputs are random at power-on: clear them now

    def show(self, states: Mapping[str, LightMode]) -> None:
        """Light exactly these slots; rewrite the chain only when the pattern changes."""
        steady = 0
        patterned = dict.fromkeys(PATTERNS, 0)
        for code, mode in _known(states, self.slots, self._warned).items():
            if mode == "on":
                steady |= self._bit[code]
            else:
                patterned[mode] |= self._bit[code]
        with self._lock:
            self._steady, self._patterned = steady, patterned
            self._refresh()
            if any(patterned.values()) and self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._blink, name="595-blink",
                                                daemon=True)
                self._thread.start()

    def _blink(self) -> None:
        while not self._stop.wait(self.blink_s / 2):
            with self._lock:
                self._step += 1
                self._refresh()

    def _refresh(self) -> None:
        pattern = self._steady
        for mode, bits in self._patterned.items():
            steps = PATTERNS[mode]
            if steps[self._step % len(steps)]:
                pattern |= bits
        if pattern != self._written:
            self._write(pattern)

    def _write(self, pattern: int) -> None:
        for position in reversed(range(self.length)):
            self._data.value = (pattern >> position) & 1
            self._clock.on()  # the 595 shifts on the clock's rising edge
            self._clock.off()
        self._latch.on()  # ... and copies to its outputs on the latch's rising edge
        self._latch.off()
        self._written = pattern

    def close(self) -> None:
        """Stop blinking, switch every output off and release the three pins."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._outputs:
            with self._lock:
                self._steady = 0
                self._patterned = dict.fromkeys(PATTERNS, 0)
                self._refresh()
        self._close_outputs()

    def _close_outputs(self) -> None:
        outputs, self._outputs = self._outputs, []
        for device in outputs:
            device.off()
            device.close()


class ShelfLights:
    """The LEDs of all shelves as one: each slot's state goes to the part that drives it."""

    def __init__(self, parts: Sequence[OwnedLights]) -> None:
        self.parts = list(parts)
        self._owner: dict[str, OwnedLights] = {}
        for part in self.parts:
            for code in part.slots:
                if code in self._owner:
                    raise ValueError(f"slot {code} is driven by two sets of lights")
                self._owner[code] = part
        self.slots = frozenset(self._owner)
        self._warned: set[tuple[str, str]] = set()

    def show(self, states: Mapping[str, LightMode]) -> None:
        """Give every part the states of its own slots (an empty picture darkens it)."""
        split: dict[int, dict[str, LightMode]] = {id(part): {} for part in self.parts}
        for code, mode in _known(states, self.slots, self._warned).items():
            split[id(self._owner[code])][code] = mode
        for part in self.parts:
            part.show(split[id(part)])

    def close(self) -> None:
        """Close every part, even when one of them fails."""
        for part in self.parts:
            try:
                part.close()
            except Exception:  # one stuck part must not keep the others lit
                log.exception("closing the lights %s failed", type(part).__name__)


def shelf_lights(shelf: Shelf, pin_factory: Factory | None = None) -> OwnedLights:
    """The lights of one shelf, as its ``leds`` setting says they are wired."""
    if shelf.leds == "gpio":
        return GpioSlotLights(shelf.led_of, pin_factory=pin_factory)
    if shelf.leds == "74hc595":
        pins = shelf.chain_pins
        return ShiftRegisterSlotLights(shelf.led_of, pins["data"], pins["clock"], pins["latch"],
                                       pin_factory=pin_factory)
    allowed = ", ".join(repr(kind) for kind in LED_KINDS)
    raise ConfigError(f"shelf {shelf.id}: leds = {shelf.leds!r}: allowed values are {allowed}")


def build_lights(shelves: Iterable[Shelf], pin_factory: Factory | None = None) -> ShelfLights:
    """The lights of every shelf; on failure the pins already claimed are released again."""
    parts: list[OwnedLights] = []
    try:
        for shelf in shelves:
            parts.append(shelf_lights(shelf, pin_factory))
    except Exception:
        ShelfLights(parts).close()
        raise
    return ShelfLights(parts)
