"""The sample community with slot buttons: A-11 and A-12 on their own pins, shelf B's sixteen
slots on a 74HC165 chain (its position = the slot's number - 1)."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Config, load_config

GPIO_BUTTONS = {"A-11": 4, "A-12": 7}
LEDS = {"A-11": 25, "A-12": 26}  # their LEDs in the sample
CHAIN_PINS = {"data": 10, "clock": 11, "load": 14}


def add_buttons(path: Path) -> Config:
    """Give the community at ``path`` its buttons; return its configuration."""
    text = path.read_text(encoding="utf-8")
    for code, pin in GPIO_BUTTONS.items():
        slot = f'code = "{code}"\nled = {LEDS[code]}\n'
        assert slot in text
        text = text.replace(slot, f"{slot}button = {pin}\n")
    chain = "".join(f"button_{role}_pin = {pin}\n" for role, pin in CHAIN_PINS.items())
    text = text.replace("latch_pin = 22\n", f'latch_pin = 22\nbuttons = "74hc165"\n{chain}')
    for n in range(16):
        slot = f'code = "B-{n + 1:02d}"\nled = {n}\n'
        assert slot in text
        text = text.replace(slot, f"{slot}button = {n}\n")
    path.write_text(text, encoding="utf-8")
    return load_config(path)
