"""Mock pins off a Raspberry Pi, gpiozero's own choice on one."""

from __future__ import annotations

import logging

from gpiozero.pins.mock import MockFactory

from hardware.pins import default_pin_factory


def test_a_raspberry_pi_keeps_gpiozeros_own_factory(tmp_path, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert default_pin_factory(model) is None


def test_an_explicit_factory_in_the_environment_is_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert default_pin_factory(tmp_path / "no-such-model") is None


def test_elsewhere_mock_pins_are_used_and_said_so(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    model = tmp_path / "model"
    model.write_bytes(b"Generic x86 laptop\x00")
    with caplog.at_level(logging.INFO, logger="hardware.pins"):
        factory = default_pin_factory(model)
    try:
        assert isinstance(factory, MockFactory)
        assert caplog.messages == ["not a Raspberry Pi: using gpiozero's mock pins"]
    finally:
        factory.close()
