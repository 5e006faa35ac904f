"""Several frames of a label held up, fused or their module grids voted where no single one
reads (``hardware.fusion``).

Real decoders on real rendered frames: the shelf's label as printed, held still for ten frames
under a reflection that moves as the hand turns the card (``kiosk.app.sim.gate_views``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hardware import qr_erasure
from hardware.decoder import DecoderChain
from hardware.fusion import Fusion
from hardware.regions import Box, Outline
from kiosk.app.sim import gate_views
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.printing import LABEL_ERROR

PAYLOAD = make_label(b"s", HouseholdId.parse("24-2304"), "SF1234567")
# Seeds whose ten frames no single-frame chain reads without the erasure decoder (which now
# reads a frame of each: hardware.qr_erasure, tests/test_hardware_qr_erasure.py).
GLARE_NO_SINGLE_FRAME_READS = (3, 6)


def held(seed: int, printed: gate_views.Printed | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    printed = printed or gate_views.shelf_label(PAYLOAD, LABEL_ERROR)
    recipe = gate_views.draw_view(printed, "glare", rng, camera=(640, 480))
    return [frame for frame, _ in gate_views.held(recipe, 10, rng)]


@pytest.mark.parametrize("seed", GLARE_NO_SINGLE_FRAME_READS)
def test_a_label_no_single_frame_reads_is_read_from_the_frames_fused(monkeypatch, seed):
    frames = held(seed)
    assert any(DecoderChain().decode(f) for f in frames)  # with the erasures, one frame reads
    monkeypatch.setattr(qr_erasure, "read", lambda *args, **kwargs: None)
    single = DecoderChain()
    assert [f for f in frames if single.decode(f)] == []
    kiosk = DecoderChain(fuse=True)
    read = [kiosk.decode(frame) for frame in frames]
    assert any(symbols for symbols in read)
    assert {s.data.decode() for symbols in read for s in symbols} == {PAYLOAD}


def turning(seed: int, payloads: list[str]) -> list[np.ndarray]:
    """Frames of a label held up while the hand turns it ``TURN`` degrees a frame, a strong
    reflection (``SWEPT_GLARE`` of the code) sweeping across it: frame ``i`` shows
    ``payloads[i]`` (one label throughout, or a different one each frame)."""
    rng = np.random.default_rng(seed)
    labels = [gate_views.shelf_label(payload, LABEL_ERROR) for payload in payloads]
    recipe = gate_views.Recipe(labels[0], gate_views.random_shot(labels[0], rng,
                                                                 camera=(640, 480)))
    frames = []
    for printed, t in zip(labels, np.linspace(0, 1, len(labels)), strict=True):
        reflection = gate_views.covering(printed, SWEPT_GLARE, 0.75 - 0.35 * t, 0.35 + 0.35 * t,
                                         strength=0.95, elongation=1.0, angle=0.0)
        frames.append(gate_views.render(replace(recipe, printed=printed,
                                                reflection=reflection), rng)[0])
        recipe = gate_views.shaken(recipe, rng)
        recipe = replace(recipe, shot=replace(recipe.shot, angle=recipe.shot.angle + TURN))
    return frames


TURN = 2.0  # degrees a frame: a courier turning the card towards the camera, 50 degrees a second
SWEPT_GLARE = 0.45  # of the code washed out in each frame: more than level M restores
# Seeds whose turning frames no single frame reads, nor the frames fused (the turn blurs
# what a shift aligns), and the vote does: each frame is sampled through its own outline.
TURNING_ONLY_THE_VOTE_READS = (0, 2)


@pytest.mark.parametrize("seed", TURNING_ONLY_THE_VOTE_READS)
def test_a_turning_label_no_frame_nor_the_fusion_reads_is_read_by_voting_its_modules(
        monkeypatch, seed):
    frames = turning(seed, [PAYLOAD] * 10)
    single = DecoderChain()
    assert [f for f in frames if single.decode(f)] == []
    kiosk = DecoderChain(fuse=True)
    with monkeypatch.context() as patched:
        patched.setattr(Fusion, "voted", lambda self: None)
        assert [f for f in frames if kiosk.decode(f)] == []  # the pixels fused read nothing
    kiosk = DecoderChain(fuse=True)
    read = [kiosk.decode(frame) for frame in frames]
    assert any(read)
    assert {s.data.decode() for symbols in read for s in symbols} == {PAYLOAD}


def test_frames_of_a_different_label_each_are_never_read_together():
    """The same turning frames, each of another parcel's label (those no single frame reads):
    voted together they are noise, which the verification refuses."""
    payloads = [make_label(b"s", HouseholdId.parse("24-2304"), f"SF12345{n:02d}")
                for n in range(10)]
    single = DecoderChain()
    frames = [f for f in turning(TURNING_ONLY_THE_VOTE_READS[0], payloads)
              if not single.decode(f)]
    assert len(frames) >= 8
    kiosk = DecoderChain(fuse=True)
    assert [kiosk.decode(frame) for frame in frames] == [[]] * len(frames)
    assert kiosk.fusion is not None and any(kept.sampled for kept in kiosk.fusion.frames)


def test_garbage_outlined_in_many_frames_is_never_voted_into_a_read():
    """Noise, and noise with a QR code's fixed patterns drawn in, outlined in the same place
    frame after frame: every vote (each version, 2-10 frames) reads nothing."""
    rng = np.random.default_rng(7)
    for version in (1, 2, 3, 4, 6):
        size = 17 + 4 * version
        known, dark = qr_erasure.function_pattern(version)
        fusion = Fusion()
        corners = np.array([[20, 20], [20 + 4 * size, 20], [20 + 4 * size, 20 + 4 * size],
                            [20, 20 + 4 * size]], np.float32)
        for number in range(1, 31):
            modules = rng.random((size, size)) < 0.5
            modules[known] = dark[known]
            picture = np.where(modules, 30, 220).astype(np.uint8)
            picture = np.kron(picture, np.ones((4, 4), np.uint8))
            grey = np.full((8 * size + 40, 8 * size + 40), 220, np.uint8)
            grey[20:20 + 4 * size, 20:20 + 4 * size] = picture
            grey = np.clip(grey + rng.normal(0, 25, grey.shape), 0, 255).astype(np.uint8)
            seen = [Box(20, 20, 4 * size, 4 * size)]
            assert fusion.keep(number, grey, seen, [Outline(corners, version)])
            assert fusion.voted() is None


def test_a_held_view_without_a_code_keeps_no_frame_and_reads_nothing():
    blank = gate_views.blank(gate_views.shelf_label(PAYLOAD, LABEL_ERROR))
    kiosk = DecoderChain(fuse=True)
    for seed in range(3):
        assert [kiosk.decode(frame) for frame in held(seed, blank)] == [[]] * 10
    assert kiosk.fusion is not None and len(kiosk.fusion.frames) == 0


def test_frames_are_kept_while_a_code_is_seen_and_forgotten_once_it_has_gone():
    fusion, grey, box = Fusion(linger=2), np.zeros((48, 64), np.uint8), Box(8, 8, 32, 32)
    assert not fusion.keep(1, grey, [])  # nothing seen yet: an empty view costs nothing
    assert fusion.keep(2, grey, [box]) and fusion.keep(3, grey, [])  # glare hid it a moment
    assert fusion.fused() is None  # two frames fuse into nothing better than one
    assert fusion.keep(4, grey, []) and len(fusion.frames) == 3
    assert not fusion.keep(5, grey, []) and len(fusion.frames) == 0  # it has gone
