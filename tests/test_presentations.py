"""Whole presentations (a label moving in, held, tilted, glare sweeping) through the kiosk.

The kiosk is the real one (wired decoder, SQLite store, gpiozero's mock pins) on the rig of
``kiosk.app.sim.rig``; ``bench/presentations.py`` measures the same on 1,000+ presentations.
Thresholds sit a little under what was measured, so that noise does not flake them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import numpy as np
import pytest

from kiosk.app.sim.presentations import (
    KINDS,
    draw,
    draw_many,
    frames,
    readable_by_any,
    write_presentations_video,
)
from kiosk.app.sim.rig import Rig, labels, watched_households
from kiosk.app.wiring import build_scanner
from kiosk.clock import ManualClock


@pytest.fixture(scope="module")
def payloads(community_template):
    from kiosk.config import load_config

    return labels(load_config(community_template / "config.toml"), 40)


def test_a_presentation_moves_into_view_then_is_read_by_some_decoder(payloads):
    rng = np.random.default_rng(5)
    for kind in KINDS:
        presentation = draw(payloads[0], kind, rng, fps=25)
        shown = list(frames(presentation))
        assert len(shown) == 25 and shown[0].shape == (480, 640, 3)
        assert not readable_by_any(shown[0], presentation.payload)  # still out of view
        assert any(readable_by_any(f, presentation.payload) for f in shown), kind
        again = list(frames(presentation))  # a recipe: the same frames every time
        assert all(np.array_equal(a, b) for a, b in zip(shown, again, strict=True))
    with pytest.raises(ValueError, match="unknown presentation kind 'wave'"):
        draw(payloads[0], "wave", rng)


def test_glare_sweeps_across_a_held_label(payloads):
    rng = np.random.default_rng(11)
    presentation = draw(payloads[0], "glare", rng, fps=25)
    held = list(frames(presentation))[presentation.enter_frames + 1:]
    brightest = [int(np.argmax(f.max(axis=2).sum(axis=0))) for f in held]  # its column
    assert max(brightest) - min(brightest) > 60  # the reflection moves over the card


def test_the_kiosk_acts_on_the_first_frame_that_reads(community, caplog):
    """Frame by frame (every frame decoded), the slot's LED goes high while the first frame
    the kiosk's decoder reads is being handled: not one frame later."""
    presentations = draw_many(labels(community, 16), 31)
    with caplog.at_level(logging.INFO, logger="kiosk"):
        run = Rig(community, presentations, paced=False).run()
    assert sum(s.read for s in run.scores) >= 15, run.scores  # measured: 16 of 16
    for score in run.scores:
        if score.read:
            assert score.acted_on == score.first_own == score.led_at, score
            assert score.first_readable is not None and score.first_readable <= score.acted_on
    assert run.dropped == 0 and run.decoded == run.grabbed
    assert all(s.outcomes in ([], ["checkin"]) for s in run.scores), (
        run.scores, [m for m in caplog.messages if not m.startswith("checkin ")])


def test_a_replayed_video_of_presentations_checks_every_label_in(community, tmp_path, factory):
    presentations = draw_many(labels(community, 8, prefix="V"), 77)
    video = write_presentations_video(tmp_path / "gate.avi", presentations)
    conn = sqlite3.connect(community.database)
    from kiosk.store import connect

    scanner = build_scanner(community, connect(community.database), ManualClock(),
                            camera=f"video:{video}", speed=None, pin_factory=factory)
    try:
        assert scanner.run(threading.Event()) == 8 * 25
    finally:
        scanner.close()
    checked = {r[0] for r in conn.execute("SELECT label FROM parcels")}
    assert checked == {p.payload for p in presentations}


def test_the_watched_households_each_have_a_gpio_slot(community):
    households = watched_households(community)
    assert len(households) == 12 and len(set(households)) == 12  # A-01 .. A-12


@pytest.mark.proof
def test_live_presentations_light_the_slot_within_two_frames(community):
    """At 25 fps, the camera on its own thread and the newest frame decoded: every label read,
    the LED on within 2 frames of the first frame the kiosk's decoder reads, and mostly of the
    first frame any decoder reads (timed: run by `make proofs`)."""
    run = Rig(community, draw_many(labels(community, 24), 99), paced=True).run()
    assert all(s.read for s in run.scores), run.scores
    assert max(s.own_frames_to_led for s in run.scores) <= 2, run.scores
    assert sorted(s.frames_to_led for s in run.scores)[len(run.scores) // 2] <= 1, run.scores
