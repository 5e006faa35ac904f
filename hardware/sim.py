"""Simulated parts for the tests and the proofs: a 74HC165 chain made of gpiozero's mock pins
(the slot buttons), and a camera that shows nothing (the kiosk loop then only watches them).

It answers the kiosk's reads as the chips do: SH/LD low copies every input at once; while it is
high, each rising clock edge shifts the next bit out to the data pin (chip 0's H first, then
G .. A, then chip 1's H ...). ``press`` and ``release`` set an input as a button would.
"""

from __future__ import annotations

import threading

from gpiozero.pins.mock import MockConnectedPin, MockFactory


class Chain165:
    """``length`` inputs (whole chips) on the data, clock and load pins of a MockFactory."""

    def __init__(self, factory: MockFactory, *, data: int, clock: int, load: int,
                 clock_probe: int, load_probe: int, length: int = 16) -> None:
        self.data = factory.pin(data)
        self.inputs = [1] * length  # index = chain position; pulled up: 1 = not pressed
        self.shift: list[int] = []  # the bits still to come out, the next one first
        self.loads = 0  # reads of the whole chain begun
        self.loaded = threading.Condition()
        clock_in, load_in = factory.pin(clock_probe), factory.pin(load_probe)
        factory.pin(clock, pin_class=MockConnectedPin, input_pin=clock_in)
        factory.pin(load, pin_class=MockConnectedPin, input_pin=load_in)
        clock_in.when_changed = self._on_clock
        load_in.when_changed = self._on_load
        self.data.drive_high()  # idle, as the pulled-up inputs read

    def press(self, position: int) -> None:
        self.inputs[position] = 0

    def release(self, position: int) -> None:
        self.inputs[position] = 1

    def wait_reads(self, reads: int, timeout: float) -> bool:
        """Wait until the kiosk has begun ``reads`` more reads of the chain."""
        with self.loaded:
            target = self.loads + reads
            return self.loaded.wait_for(lambda: self.loads >= target, timeout)

    def _on_load(self, ticks: float, state: bool) -> None:
        if not state:
            self.shift = [self.inputs[8 * chip + 7 - i] for chip in range(len(self.inputs) // 8)
                          for i in range(8)]
            with self.loaded:
                self.loads += 1
                self.loaded.notify_all()
            self._out()

    def _on_clock(self, ticks: float, state: bool) -> None:
        if state and self.shift:
            self.shift.pop(0)
            self._out()

    def _out(self) -> None:
        bit = self.shift[0] if self.shift else 1  # the last chip's SER: pulled up
        if bit:
            self.data.drive_high()
        else:
            self.data.drive_low()


class QuietCamera:
    """A live camera (paced) that delivers no frame until it is closed; closing it ends the
    kiosk loop at once (its source ended)."""

    paced = True

    def __init__(self) -> None:
        self.closed = threading.Event()

    def read(self) -> None:
        self.closed.wait()
        return None

    def close(self) -> None:
        self.closed.set()
