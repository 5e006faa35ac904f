"""Camera degradations of rendered label frames: pure, deterministic, and as bad as they say."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.sim.degrade import PRESETS, glare, jpeg, low_light, motion_blur, perspective
from kiosk.app.sim.label_video import Pose, Scene, label_frame

LABEL = Scene("DS1:24-2304:SF1234567:KX3M7Q2B9HZA", "24-2304")


@pytest.fixture
def frame() -> np.ndarray:
    return label_frame(LABEL, np.random.default_rng(7), Pose(0.0, 320, 240, 1.0))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_pure_and_deterministic_given_its_seed(frame, name):
    before = frame.copy()
    first = PRESETS[name](frame, np.random.default_rng(3))
    again = PRESETS[name](frame, np.random.default_rng(3))
    np.testing.assert_array_equal(frame, before)  # the input is left alone
    assert first.shape == frame.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    if name != "clean":
        assert np.abs(first.astype(int) - frame).mean() > 1.0  # it did spoil something


def test_glare_is_a_blown_out_patch_where_it_is_put_so_it_can_sweep(frame):
    for x in (0.2, 0.5, 0.8):
        lit = glare(frame, x, 0.5, radius=0.05, strength=1.0)
        assert lit[240, round(640 * x)].min() == 255  # blown out at its centre
        far = round(640 * (x + 0.5)) % 640
        assert np.array_equal(lit[240, far], frame[240, far])  # and nowhere near elsewhere


def test_motion_blur_smears_along_its_direction_only(frame):
    grey = frame.mean(axis=2)
    smeared = motion_blur(frame, 15, angle=0.0).mean(axis=2)
    along = np.abs(np.diff(smeared, axis=1)).mean() / np.abs(np.diff(grey, axis=1)).mean()
    across = np.abs(np.diff(smeared, axis=0)).mean() / np.abs(np.diff(grey, axis=0)).mean()
    assert along < 0.5 * across  # (the noise is smoothed both ways)


def test_perspective_without_tilt_is_the_frame_and_a_tilt_foreshortens(frame):
    assert np.abs(perspective(frame).astype(int) - frame).max() <= 1
    def width(image: np.ndarray) -> int:
        columns = np.flatnonzero((image.mean(axis=2) < 50).any(axis=0))  # the QR's dark modules
        return int(columns[-1] - columns[0])

    assert width(perspective(frame, tilt_x=50)) < 0.8 * width(frame)


def test_low_light_darkens_and_lower_jpeg_quality_loses_more(frame):
    rng = np.random.default_rng(1)
    assert low_light(frame, 0.1, rng).mean() < 0.15 * frame.mean()
    error = [np.abs(jpeg(frame, q).astype(int) - frame).mean() for q in (90, 30, 10)]
    assert error == sorted(error)
