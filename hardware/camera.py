"""Where frames come from: a V4L2 or CSI camera, a recorded video, or a folder of still images.

The kiosk's ``camera`` setting picks one: ``device:0`` (USB, V4L2), ``picamera2`` or
``picamera2:N`` (a CSI camera module through libcamera, on Raspberry Pi OS), ``video:FILE`` or
``images:DIR``. A replayed video can be paced like a live camera, which is how the demo and CI
run the kiosk. A live camera that fails is reopened by the kiosk (``kiosk.grabber``) with
``reopener(spec)``; a replay that ends ends the run, unless it loops ([kiosk] replay = "loop").
A live camera that is not there when the kiosk starts raises CameraUnavailable, and the kiosk
waits for it as for a lost one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.errors import ConfigError, ImageUnreadable
from kiosk.ports import Frame, FrameSource

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DEFAULT_FPS = 10.0  # when a video file does not say its frame rate
LIVE_KINDS = ("device", "picamera2")  # cameras that are reopened when lost
FORMS = "device:0, picamera2, picamera2:0, video:FILE, images:DIR"
# What the kiosk's unit hides (ProtectHome=yes, PrivateTmp=yes): a replay there is not found.
HIDDEN_FROM_SERVICES = ("/home", "/root", "/run/user", "/tmp", "/var/tmp")
LOOP_FPS = 2.0  # a folder of images replayed in a loop: images a second (not a busy loop)


class CameraUnavailable(ConfigError):
    """A live camera named correctly that cannot be opened now (unplugged, not yet detected)."""


def _imread(path: Path) -> Frame | None:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def read_image(path: str | Path) -> Frame:
    """Read one image file as a BGR frame, or raise ImageUnreadable."""
    if not Path(path).is_file():
        raise ImageUnreadable(f"{path}: no such file")
    frame = _imread(Path(path))
    if frame is None:
        raise ImageUnreadable(f"{path}: not an image that can be read (png, jpg or bmp)")
    return frame


class DeviceCamera:
    """A V4L2 camera (``/dev/videoN``), asked for ``width`` x ``height`` frames."""

    paced = True  # it delivers at its own rate: the kiosk takes the newest frame

    def __init__(self, index: int, width: int = 1280, height: int = 720) -> None:
        self._capture = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraUnavailable(f"camera device:{index}: cannot open /dev/video{index}")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # decode what is in view now, not 4 ago

    def read(self) -> Frame | None:
        """The next frame, or None when the camera stops delivering."""
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        self._capture.release()


class VideoFileSource:
    """The frames of a video file, paced like a camera at ``speed`` times its frame rate.

    ``speed=1`` replays in real time (the demo), ``speed=10`` ten times faster (the demo's
    --fast: still paced, so time between sightings, and thus debouncing, stays meaningful);
    ``speed=None`` reads as fast as the decoder goes.
    """

    def __init__(self, path: str | Path, speed: float | None = None, loop: bool = False) -> None:
        self.path = Path(path)
        if not _found(self.path, f"video:{path}", Path.is_file):
            raise ConfigError(f"camera video:{path}: no such file")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise ConfigError(f"camera video:{path}: not a video OpenCV can read")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and fps > 0 else DEFAULT_FPS
        self.speed, self.loop = speed, loop
        self.paced = speed is not None  # replayed in time: frames come whether read or not
        self._start: float | None = None  # time.monotonic() of frame 0 of this pass
        self._index = 0  # frames returned in this pass

    def read(self) -> Frame | None:
        """The next frame (from the start again when looping), or None at the end."""
        ok, frame = self._capture.read()
        if not ok and self.loop and self._index:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._start, self._index = None, 0
            ok, frame = self._capture.read()
        if not ok:
            return None
        if self.speed:
            self._pace()
        self._index += 1
        return frame

    def _pace(self) -> None:
        # Frame i is due i/fps after frame 0: a slow reader catches up instead of drifting.
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._index / (self.fps * self.speed) - now
        if delay > 0:
            time.sleep(delay)

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource:
    """The image files of a folder in name order, one frame each; unreadable files are skipped.

    Read once, as fast as the reader asks; with ``loop``, from the first again after the last,
    paced at ``LOOP_FPS`` like a slow camera (a loop read flat out would only burn the CPU).
    """

    def __init__(self, directory: str | Path, loop: bool = False) -> None:
        self.directory = Path(directory)
        if not _found(self.directory, f"images:{directory}", Path.is_dir):
            raise ConfigError(f"camera images:{directory}: no such folder")
        self.files = sorted(p for p in self.directory.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            allowed = ", ".join(IMAGE_SUFFIXES)
            raise ConfigError(f"camera images:{directory}: no image files ({allowed}) in it")
        self.loop = self.paced = loop
        self._next = 0
        self._due = 0.0  # time.monotonic() when the next looped image is due
        self._closed = False

    def read(self) -> Frame | None:
        """The next readable image; None after the last one (never, looping a readable one)."""
        delivered = True  # since the last pass began (a pass without one ends a loop too)
        while not self._closed:
            if self._next == len(self.files):
                if not (self.loop and delivered):
                    return None
                self._next, delivered = 0, False
            path = self.files[self._next]
            self._next += 1
            frame = _imread(path)
            if frame is not None:
                if self.loop:
                    self._pace()
                return frame
            log.warning("skipping %s: not an image that can be read", path)
        return None

    def _pace(self) -> None:
        now = time.monotonic()
        if now < self._due:
            time.sleep(self._due - now)
        self._due = max(now, self._due) + 1 / LOOP_FPS

    def close(self) -> None:
        self._closed = True


def _found(path: Path, spec: str, test: Callable[[Path], bool]) -> bool:
    """``test(path)``, or a ConfigError naming what the OS said (a folder it may not enter)."""
    try:
        return test(path)
    except OSError as exc:
        raise ConfigError(f"camera {spec}: {(exc.strerror or str(exc)).lower()}") from None


class Picamera2Source:
    """A CSI camera module through picamera2 (libcamera), as grey ``width`` x ``height`` frames.

    picamera2 comes with Raspberry Pi OS (``apt install python3-picamera2``), not from PyPI; it
    is imported only when this camera is opened. Frames are asked for as YUV420, whose Y plane
    is the grey image the decoders read: no colour conversion per frame.
    """

    paced = True

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, *,
                 camera_class: Callable[..., Any] | None = None) -> None:
        make = camera_class or _picamera2_class()
        self.width, self.height = width, height
        try:
            self._camera = make(index)
        except Exception as exc:  # no camera at that index, or libcamera could not start it
            raise CameraUnavailable(f"camera picamera2:{index}: cannot open CSI camera {index} "
                              f"({' '.join(str(exc).split())}); is the ribbon cable seated, "
                              "and does `rpicam-hello --list-cameras` list it?") from exc
        try:
            self._camera.configure(self._camera.create_video_configuration(
                main={"size": (width, height), "format": "YUV420"}))
            if "AfMode" in getattr(self._camera, "camera_controls", {}):
                self._camera.set_controls({"AfMode": 2})  # continuous autofocus (Camera Module 3)
            self._camera.start()
        except Exception as exc:  # found, but libcamera could not start it: not there yet
            self._camera.close()
            raise CameraUnavailable(f"camera picamera2:{index}: cannot start CSI camera "
                                    f"{index} ({' '.join(str(exc).split())})") from exc

    def read(self) -> Frame | None:
        """The next frame from the camera as a grey image."""
        return grey_from_yuv420(self._camera.capture_array("main"), self.width, self.height)

    def close(self) -> None:
        self._camera.close()


def grey_from_yuv420(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """The Y plane of a YUV420 buffer laid out as picamera2 gives it: ``(h * 3 / 2, stride)``."""
    return np.ascontiguousarray(array[:height, :width])


def _picamera2_class() -> Callable[..., Any]:
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise ConfigError(
            "camera picamera2: the picamera2 module is not installed. On Raspberry Pi OS: "
            "`sudo apt install python3-picamera2`, and make the venv with "
            "--system-site-packages (`make` does on a Pi); elsewhere use device:N") from exc
    return Picamera2


def open_source(spec: str, speed: float | None = 1.0, *, loop: bool = False) -> FrameSource:
    """Open the source named by a ``camera`` setting (see FORMS); ``loop``: a replay's end
    starts it again ([kiosk] replay = "loop")."""
    kind, _, where = spec.partition(":")
    if kind == "device" and where.isdigit():
        return DeviceCamera(int(where))
    if kind == "picamera2" and (where.isdigit() or not where):
        return Picamera2Source(int(where or 0))
    try:
        if kind == "video" and where:
            return VideoFileSource(where, speed=speed, loop=loop)
        if kind == "images" and where:
            return ImageFolderSource(where, loop=loop)
    except ConfigError as exc:
        raise ConfigError(f"{exc}{hidden_from_the_service(where)}") from None
    raise ConfigError(f"camera = {spec!r}: allowed forms are {FORMS}")


def hidden_from_the_service(path: str) -> str:
    """A hint when ``path`` lies where the kiosk's unit sees nothing of the system's ("")."""
    if not any(Path(path).is_relative_to(hidden) for hidden in HIDDEN_FROM_SERVICES):
        return ""
    return ("; the kiosk's service sees no /home, /root or /tmp (ProtectHome, PrivateTmp): "
            "put replays in /var/lib/shelf or /srv")


def reopener(spec: str, speed: float | None = 1.0) -> Callable[[], FrameSource] | None:
    """How to open a live camera again after it was lost; None for a replay (its end is final)."""
    if spec.partition(":")[0] not in LIVE_KINDS:
        return None
    return lambda: open_source(spec, speed)
