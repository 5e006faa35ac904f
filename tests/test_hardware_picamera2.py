"""The CSI camera source: a clear refusal where picamera2 is missing, frames through a fake one.

picamera2 exists only on Raspberry Pi OS (from apt), so the camera object here is our own
stand-in for ``picamera2.Picamera2``: it hands out YUV420 buffers shaped as picamera2 does,
``(height * 3 / 2, stride)``, with the stride padded past the width.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import segno

from hardware.camera import Picamera2Source, open_source, reopener
from hardware.decoder import ZbarDecoder
from kiosk.errors import ConfigError

LABEL = "DS1:24-2304:SF1234567:KX3M7Q2B9HZA"
WIDTH, HEIGHT, STRIDE = 640, 480, 704  # libcamera pads each row to its own alignment


def qr_grey(payload: str) -> np.ndarray:
    """A 640x480 grey view of a QR code on white."""
    code = np.array([list(r) for r in segno.make(payload).matrix_iter(scale=8, border=4)])
    code = np.where(code == 1, 0, 255).astype(np.uint8)
    view = np.full((HEIGHT, WIDTH), 255, np.uint8)
    view[40:40 + code.shape[0], 120:120 + code.shape[1]] = code
    return view


class FakePicamera2:
    """Stands in for picamera2.Picamera2: records how it was set up, gives YUV420 buffers."""

    made: list[FakePicamera2] = []

    def __init__(self, camera_num=0):
        if camera_num > 0:
            raise IndexError("list index out of range")  # what picamera2 says: no such camera
        self.camera_controls = {"AfMode": (0, 2, 0)}
        self.controls, self.started, self.closed = {}, False, False
        self.view = qr_grey(LABEL)
        FakePicamera2.made.append(self)

    def create_video_configuration(self, main):
        return {"main": dict(main)}

    def configure(self, config):
        self.config = config

    def set_controls(self, controls):
        self.controls.update(controls)

    def start(self):
        self.started = True

    def capture_array(self, name="main"):
        buffer = np.full((HEIGHT * 3 // 2, STRIDE), 77, np.uint8)  # padding and U/V planes
        buffer[:HEIGHT, :WIDTH] = self.view
        return buffer

    def close(self):
        self.closed = True


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None,
                    reason="picamera2 is installed here")
def test_without_picamera2_the_setting_is_refused_saying_what_to_install():
    with pytest.raises(ConfigError, match=r"picamera2 module is not installed.*"
                                          r"apt install python3-picamera2.*system-site-packages"):
        open_source("picamera2")


def test_a_csi_frame_is_the_grey_image_and_decodes():
    camera = Picamera2Source(0, WIDTH, HEIGHT, camera_class=FakePicamera2)
    device = FakePicamera2.made[-1]
    assert device.config == {"main": {"size": (WIDTH, HEIGHT), "format": "YUV420"}}
    assert device.started and device.controls == {"AfMode": 2}  # continuous autofocus
    frame = camera.read()
    assert frame.shape == (HEIGHT, WIDTH) and frame.flags["C_CONTIGUOUS"]
    assert np.array_equal(frame, device.view)  # the Y plane: neither padding nor colour
    assert [s.data for s in ZbarDecoder().decode(frame)] == [LABEL.encode()]
    camera.close()
    assert device.closed


def test_a_missing_csi_camera_is_refused_clearly():
    with pytest.raises(ConfigError, match=r"picamera2:1: cannot open CSI camera 1 "
                                          r"\(list index out of range\).*rpicam-hello"):
        Picamera2Source(1, camera_class=FakePicamera2)


def test_live_cameras_are_reopened_and_replays_are_not(tmp_path):
    assert reopener("device:0") is not None and reopener("picamera2:0") is not None
    assert reopener(f"video:{tmp_path}/gate.avi") is None
    assert reopener(f"images:{tmp_path}") is None


def test_a_csi_camera_absent_or_failing_to_start_is_waited_for_not_refused():
    """The kiosk waits for a CameraUnavailable (kiosk.app.wiring); a typo stays a refusal."""
    from hardware.camera import CameraUnavailable

    class Timing(FakePicamera2):
        def start(self):
            raise RuntimeError("Camera frontend has timed out!")

    with pytest.raises(CameraUnavailable, match=r"picamera2:1: cannot open CSI camera 1"):
        Picamera2Source(1, camera_class=FakePicamera2)
    with pytest.raises(CameraUnavailable, match=r"picamera2:0: cannot start CSI camera 0 "
                                                r"\(Camera frontend has timed out!\)"):
        Picamera2Source(0, camera_class=Timing)
    assert FakePicamera2.made[-1].closed
    with pytest.raises(ConfigError) as typo:
        open_source("picamera2:first")
    assert not isinstance(typo.value, CameraUnavailable)
