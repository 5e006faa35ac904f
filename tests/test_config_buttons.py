"""Slot buttons in the configuration: one pin per slot or a 74HC165 chain, and what is refused."""

from __future__ import annotations

import pytest

from kiosk.community import write_sample
from kiosk.config import load_config
from kiosk.errors import ConfigError


@pytest.fixture
def sample(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    return path


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the sample no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_without_buttons_no_slot_has_one(sample):
    config = load_config(sample)
    assert not any(slot.button for slot in config.layout.slots)
    assert all(shelf.button_of == {} for shelf in config.layout.shelves)
    assert config.kiosk.place_s == 60


def test_a_slot_button_on_its_own_pin(sample):
    edit(sample, 'code = "A-01"\nled = 5\n', 'code = "A-01"\nled = 5\nbutton = 4\n')
    config = load_config(sample)
    shelf = config.layout.shelves[0]
    assert shelf.buttons == "gpio" and shelf.button_of == {"A-01": 4}
    assert [s.code for s in config.layout.slots if s.button] == ["A-01"]


def test_buttons_on_a_74hc165_chain(sample):
    edit(sample, 'latch_pin = 22\n', 'latch_pin = 22\nbuttons = "74hc165"\n'
         'button_data_pin = 9\nbutton_clock_pin = 11\nbutton_load_pin = 10\n')
    edit(sample, 'code = "B-01"\nled = 0\n', 'code = "B-01"\nled = 0\nbutton = 0\n')
    edit(sample, 'code = "B-02"\nled = 1\n', 'code = "B-02"\nled = 1\nbutton = 9\n')
    shelf = load_config(sample).layout.shelves[1]
    assert shelf.buttons == "74hc165"
    assert shelf.button_of == {"B-01": 0, "B-02": 9}
    assert shelf.button_pins == {"data": 9, "clock": 11, "load": 10}


CHAIN = ('latch_pin = 22\n', 'latch_pin = 22\nbuttons = "74hc165"\nbutton_data_pin = 9\n'
         'button_clock_pin = 11\nbutton_load_pin = 10\n')


@pytest.mark.parametrize("edits, message", [
    ([('led = 5\n', 'led = 5\nbutton = 40\n')],
     r"\[shelves.slots #1\] button = 40: allowed range is 2 to 27"),
    ([('led = 5\n', 'led = 5\nbutton = "four"\n')], r"button = 'four': must be a whole number"),
    ([('led = 5\n', 'led = 5\nbutton = 18\n')],
     r"GPIO 18 is used twice: by \[kiosk\] buzzer_pin and by shelf A slot A-01 button"),
    ([('led = 5\n', 'led = 5\nbutton = 6\n')], r"GPIO 6 is used twice"),
    ([('led = 5\n', 'led = 5\nbuton = 4\n')], r"unknown key 'buton'"),
    ([('leds = "gpio"\n', 'leds = "gpio"\nbuttons = "74hc166"\n')],
     r"buttons = '74hc166': allowed values are 'gpio', '74hc165'"),
    ([('latch_pin = 22\n', 'latch_pin = 22\nbuttons = "74hc165"\n')],
     r"is missing the key 'button_data_pin'"),
    ([CHAIN, ('code = "B-01"\nled = 0\n', 'code = "B-01"\nled = 0\nbutton = 3\n'),
      ('code = "B-02"\nled = 1\n', 'code = "B-02"\nled = 1\nbutton = 3\n')],
     r"shelf B: two slots' buttons share one 74HC165 input"),
    ([CHAIN, ('code = "B-01"\nled = 0\n', 'code = "B-01"\nled = 0\nbutton = 256\n')],
     r"button = 256: allowed range is 0 to 255"),
    ([('latch_pin = 22\n', 'latch_pin = 22\nbuttons = "74hc165"\nbutton_data_pin = 17\n'
       'button_clock_pin = 11\nbutton_load_pin = 10\n')],
     r"GPIO 17 is used twice: by shelf B data and by shelf B button_data_pin"),
    ([('latch_pin = 22\n', 'latch_pin = 22\nbuttons = "74hc165"\nbutton_data_pin = 2\n'
       'button_clock_pin = 11\nbutton_load_pin = 10\n')],
     r"button_data_pin = 2: GPIO 2 and 3 have fixed pull-ups; allowed GPIO pins are 4 to 27"),
    ([("place_seconds = 60", "place_seconds = 1")],
     r"\[kiosk\] place_seconds = 1: allowed range is 5 to 600"),
])
def test_a_button_mistake_names_the_key_and_what_is_allowed(sample, edits, message):
    for old, new in edits:
        edit(sample, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(sample)
