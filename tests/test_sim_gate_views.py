"""The unseen set's frames (``kiosk.app.sim.gate_views``): the product's own printed label,
seen as hard as they say, the same for the same seed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hardware.decoder import ZxingDecoder
from kiosk.app.sim import gate_views
from kiosk.app.sim.degrade import defocus, glare
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.printing import LABEL_ERROR

PAYLOAD = make_label(b"s", HouseholdId.parse("24-2304"), "SF1234567")


@pytest.fixture(scope="module")
def printed() -> gate_views.Printed:
    return gate_views.shelf_label(PAYLOAD, LABEL_ERROR)


def test_the_printed_label_held_square_reads_and_its_corners_are_where_the_code_is(printed):
    rng = np.random.default_rng(1)
    shot = gate_views.Shot((1280, 720), gate_views.distance_for(printed, (1280, 720), 4.0))
    frame, quad = gate_views.photograph(printed, shot, rng)
    [code] = ZxingDecoder(("QRCODE",)).read(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)).symbols
    assert code.data.decode() == PAYLOAD
    side = np.linalg.norm(quad[1] - quad[0])
    modules = round(printed.code_mm[2] / printed.module_mm)
    assert side == pytest.approx(4.0 * modules, rel=0.02)  # 4 px a module, as asked


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.4])
def test_a_glare_washes_out_the_share_of_the_code_it_was_drawn_for(printed, fraction):
    reflection = gate_views.covering(printed, fraction, 0.3, 0.6, strength=0.95,
                                     elongation=2.0, angle=30.0)
    grid = np.zeros((200, 200), np.uint8)  # the (square) code's box
    washed = glare(grid, reflection.x, reflection.y, radius=reflection.radius,
                   strength=reflection.strength, elongation=reflection.elongation,
                   angle=reflection.angle)
    assert float((washed >= 128).mean()) == pytest.approx(fraction, abs=0.02)


def test_defocus_spreads_a_point_over_a_disc_of_its_radius():
    point = np.zeros((41, 41), np.uint8)
    point[20, 20] = 255
    spread = defocus(point.astype(np.float32), 5.0)
    assert spread.sum() == pytest.approx(255, rel=0.01)
    assert spread[20, 25] > 0 and spread[20, 27] == 0 and spread[20, 20] < 10


@pytest.mark.parametrize("kind", gate_views.KINDS)
def test_each_kind_gives_the_same_frame_for_the_same_seed_and_a_blank_reads_nothing(
        printed, kind):
    one = gate_views.view(printed, kind, np.random.default_rng(5))[0]
    two = gate_views.view(printed, kind, np.random.default_rng(5))[0]
    assert np.array_equal(one, two)
    blank = gate_views.view(gate_views.blank(printed), kind, np.random.default_rng(5))[0]
    assert ZxingDecoder().decode(blank) == []
