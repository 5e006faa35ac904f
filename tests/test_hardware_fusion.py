"""Several frames of a label held up, fused where no single one reads (``hardware.fusion``).

Real decoders on real rendered frames: the shelf's label as printed, held still for ten frames
under a reflection that moves as the hand turns the card (``kiosk.app.sim.gate_views``).
"""

from __future__ import annotations

import numpy as np
import pytest

from hardware import qr_erasure
from hardware.decoder import DecoderChain
from hardware.fusion import Fusion
from hardware.regions import Box
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
