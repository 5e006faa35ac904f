"""The kiosk's buzzer: one short beep for a good scan, three for a refused one."""

from __future__ import annotations

from gpiozero import Buzzer
from gpiozero.pins import Factory

BEEP_S = 0.1  # long enough to hear in a busy lobby, short enough not to annoy
WARN_BEEPS = 3


class GpioBuzzer:
    """An active buzzer on a GPIO pin; beeps run in gpiozero's background thread."""

    def __init__(self, pin: int, pin_factory: Factory | None = None) -> None:
        self._buzzer = Buzzer(pin, pin_factory=pin_factory)

    def confirm(self, *, wait: bool = False) -> None:
        """One short beep; returns at once, or with ``wait`` once it and its pause are over."""
        self._buzzer.beep(on_time=BEEP_S, off_time=BEEP_S, n=1, background=not wait)

    def warn(self) -> None:
        """Three short beeps; returns at once (a new beep cuts a running pattern short)."""
        self._buzzer.beep(on_time=BEEP_S, off_time=BEEP_S, n=WARN_BEEPS, background=True)

    def close(self) -> None:
        """Silence the buzzer and release its pin."""
        if not self._buzzer.closed:
            self._buzzer.off()  # stops a running pattern, which may have left the pin high
            self._buzzer.close()


class SilentBuzzer:
    """The Buzzer port when no buzzer is fitted (``buzzer_pin = 0``)."""

    def confirm(self, *, wait: bool = False) -> None:
        pass

    def warn(self) -> None:
        pass

    def close(self) -> None:
        pass
