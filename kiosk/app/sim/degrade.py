"""Spoil a camera frame the ways a real camera does: glare, motion blur, tilt, noise, dusk, JPEG.

Each degradation is a pure function ``frame -> frame`` (BGR or grey uint8 in, the same shape
out, the input untouched) whose parameters say how bad it is; those that need chance take a
``numpy`` Generator, so a seed gives the same frame every time. ``glare`` takes a position, so
moving it over a sequence of frames sweeps a reflection across a held label.

``PRESETS`` draws each degradation at a random, realistic strength: the benchmark's and the
tests' "frames per degradation".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def glare(frame: np.ndarray, x: float, y: float, *, radius: float = 0.12,
          strength: float = 0.95, elongation: float = 1.0, angle: float = 0.0) -> np.ndarray:
    """A specular reflection centred at (``x``, ``y``), given as fractions of width and height.

    ``radius`` is a fraction of the frame's width; ``strength`` 0..1 is how far the centre is
    washed towards white (1: blown out); ``elongation`` > 1 stretches the blob into a band
    along ``angle`` degrees (a strip light on a glossy label).
    """
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xs - x * width, ys - y * height
    theta = math.radians(angle)
    along = dx * math.cos(theta) + dy * math.sin(theta)
    across = -dx * math.sin(theta) + dy * math.cos(theta)
    sigma = max(radius * width, 1.0)
    # A flat-topped profile: a real reflection saturates over a patch, then falls off.
    r2 = (along / (sigma * elongation)) ** 2 + (across / sigma) ** 2
    alpha = strength * np.clip(1.6 * np.exp(-r2), 0.0, 1.0)
    if frame.ndim == 3:
        alpha = alpha[:, :, None]
    out = frame.astype(np.float32) * (1.0 - alpha) + 255.0 * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def motion_blur(frame: np.ndarray, length: int, angle: float = 0.0) -> np.ndarray:
    """The smear of a card moving ``length`` pixels along ``angle`` degrees during exposure."""
    if length <= 1:
        return frame.copy()
    size = int(length) | 1  # odd, so the line is centred
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    kernel /= kernel.sum()
    return cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def defocus(frame: np.ndarray, radius: float) -> np.ndarray:
    """A lens focused elsewhere: each point spread over a disc of ``radius`` pixels."""
    if radius < 0.5:
        return frame.copy()
    size = 2 * math.ceil(radius) + 1
    centre = size // 2
    # The disc drawn 8x larger and shrunk, so a fractional radius still counts.
    big = np.zeros((size * 8, size * 8), np.uint8)
    cv2.circle(big, (centre * 8 + 4, centre * 8 + 4), round(radius * 8), 255, -1)
    kernel = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    kernel /= kernel.sum()
    return cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def perspective(frame: np.ndarray, tilt_x: float = 0.0, tilt_y: float = 0.0, *,
                fov: float = 60.0) -> np.ndarray:
    """The frame as seen with the card tilted ``tilt_x`` degrees about the vertical axis and
    ``tilt_y`` about the horizontal one, by a camera of ``fov`` degrees horizontal view."""
    height, width = frame.shape[:2]
    focal = (width / 2) / math.tan(math.radians(fov) / 2)
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)
    ax, ay = math.radians(tilt_y), math.radians(tilt_x)
    about_x = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)],
                        [0, math.sin(ax), math.cos(ax)]])
    about_y = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0],
                        [-math.sin(ay), 0, math.cos(ay)]])
    # The frame is a card facing the camera at the distance where one pixel is one unit:
    # turn it about its centre, put it back at that distance, and project it again.
    rotation = about_y @ about_x
    to_card = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]])
    placed = np.column_stack([rotation[:, 0], rotation[:, 1], [0.0, 0.0, focal]])
    homography = camera @ placed @ to_card
    return cv2.warpPerspective(frame, homography, (width, height),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise: Gaussian, ``sigma`` grey levels."""
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def low_light(frame: np.ndarray, level: float, rng: np.random.Generator, *,
              read_noise: float = 2.0) -> np.ndarray:
    """Dusk: the scene at ``level`` (0..1) of its light, with the shot noise that comes with it
    (photon counts are Poisson: fewer photons, a worse signal-to-noise ratio)."""
    dim = frame.astype(np.float32) * level
    shot = rng.normal(0.0, 1.0, frame.shape) * np.sqrt(np.maximum(dim, 0.0))
    out = dim + shot + rng.normal(0.0, read_noise, frame.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """The frame after a round trip through JPEG at ``quality`` (1..100), as an MJPG camera."""
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    flag = cv2.IMREAD_COLOR if frame.ndim == 3 else cv2.IMREAD_GRAYSCALE
    return cv2.imdecode(encoded, flag)


def _random_glare(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return glare(frame, float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.35, 0.65)),
                 radius=float(rng.uniform(0.05, 0.15)), strength=float(rng.uniform(0.7, 1.0)),
                 elongation=float(rng.uniform(1.0, 3.0)), angle=float(rng.uniform(0, 180)))


# Each degradation at a random strength in the range a kiosk camera meets.
PRESETS: dict[str, Degrade] = {
    "clean": lambda frame, rng: frame.copy(),
    "glare": _random_glare,
    "motion_blur": lambda frame, rng: motion_blur(
        frame, int(rng.integers(3, 12)), float(rng.uniform(0, 180))),
    "perspective": lambda frame, rng: perspective(
        frame, float(rng.uniform(-60, 60)), float(rng.uniform(-45, 45))),
    "noise": lambda frame, rng: noise(frame, float(rng.uniform(20, 45)), rng),
    "low_light": lambda frame, rng: low_light(frame, float(rng.uniform(0.03, 0.12)), rng),
    "jpeg": lambda frame, rng: jpeg(frame, int(rng.integers(5, 25))),
}
