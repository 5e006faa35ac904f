"""`shelf selftest` asks for each slot's button in turn, its slot lit, and says which answered
(on gpiozero's mock pins: the "volunteer" presses as the question is said)."""

from __future__ import annotations

import dataclasses

from test_hardware_buttons import shelf_a
from test_selftest import shelf

from kiosk.app.selftest import run_button_test
from kiosk.config import Layout

BUTTONS = {"A-01": 4, "A-02": 7, "A-03": 8}
LEDS = {"A-01": 5, "A-02": 6, "A-03": 26}


def test_each_button_is_asked_in_turn_and_the_answers_are_told(community, factory):
    layout = Layout((shelf_a(**BUTTONS),), community.layout.overflow,
                    community.layout.overflow_name)
    config = dataclasses.replace(community, layout=layout)
    said, lit = [], []
    # A-01 wired right, A-02's slot answered by A-03's button (swapped wires), A-03 silent.
    pressing = {"A-01": BUTTONS["A-01"], "A-02": BUTTONS["A-03"]}

    def volunteer(line: str) -> None:
        said.append(line)
        asked = next((code for code in BUTTONS if f"{code} lit: press" in line), None)
        if asked:
            lit.append({code for code, pin in LEDS.items() if factory.pin(pin).state})
        if asked in pressing:
            factory.pin(pressing[asked]).drive_low()
            factory.pin(pressing[asked]).drive_high()

    answered = run_button_test(config, button_seconds=0, pin_factory=factory, say=volunteer)
    assert answered == {"A-01": "A-01", "A-02": "A-03", "A-03": None}
    assert lit == [{"A-01"}, {"A-02"}, {"A-03"}]  # each asked with its own slot lit
    assert said[0] == "1/3  A-01 lit: press its button (BCM 4)"
    assert said[1:] == ["A-01: its button answers", "2/3  A-02 lit: press its button (BCM 7)",
                        "A-02: the button of A-03 answered instead: are their wires swapped?",
                        "3/3  A-03 lit: press its button (BCM 8)",
                        "A-03: no answer from its button: check its wires"]
    assert not any(factory.pin(pin).state for pin in LEDS.values())  # all dark at the end


def test_without_buttons_nothing_is_asked(community, factory):
    said = []
    assert run_button_test(community, button_seconds=0, pin_factory=factory,
                           say=said.append) == {}
    assert said == []


def test_the_command_reports_the_buttons_and_fails_when_one_is_silent(community):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_text(text.replace('code = "A-01"\nled = 5\n',
                                           'code = "A-01"\nled = 5\nbutton = 4\n'),
                              encoding="utf-8")
    done = shelf(community, "selftest", "--seconds", "0", "--button-seconds", "0")
    assert "1/1  A-01 lit: press its button (BCM 4)" in done.stdout
    assert "A-01: no answer from its button" in done.stdout  # nobody pressed the mock pin
    assert "0 of 1 buttons answered" in done.stdout
    assert done.returncode == 1
