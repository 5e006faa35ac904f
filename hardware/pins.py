"""Choose gpiozero's pin factory: the real pins on a Raspberry Pi, mock pins anywhere else."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

log = logging.getLogger(__name__)

MODEL_FILE = Path("/proc/device-tree/model")


def is_raspberry_pi(model_file: Path = MODEL_FILE) -> bool:
    """True when the device tree names a Raspberry Pi."""
    try:
        return b"Raspberry Pi" in model_file.read_bytes()
    except OSError:
        return False


def default_pin_factory(model_file: Path = MODEL_FILE) -> Factory | None:
    """None (gpiozero's own choice) on a Pi or when GPIOZERO_PIN_FACTORY is set; else mock pins.

    Off a Pi gpiozero would fail to find any GPIO chip, so the kiosk (a demo on a laptop, CI)
    runs on mock pins instead and says so once.
    """
    if os.environ.get("GPIOZERO_PIN_FACTORY") or is_raspberry_pi(model_file):
        return None
    log.info("not a Raspberry Pi: using gpiozero's mock pins")
    return MockFactory()
