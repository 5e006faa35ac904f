"""Make a camera's view of labels held up one by one: the replayed camera of the demo and tests.

Each scene is a printed label (a QR code with a caption) on a card, held a little askew,
under uneven light and sensor noise, for ``hold_s`` seconds; then an empty view for ``gap_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import segno

FRAME_SIZE = (640, 480)  # width, height: a modest USB camera


@dataclass(frozen=True)
class Scene:
    payload: str | None  # None: an empty view (no label)
    caption: str = ""


def qr_matrix(payload: str, module_px: int) -> np.ndarray:
    """The QR code of ``payload`` as a grey image, ``module_px`` pixels a module, quiet zone on."""
    rows = segno.make(payload, error="m").matrix_iter(scale=1, border=4)
    modules = np.array([list(r) for r in rows], dtype=np.uint8)
    image = np.where(modules == 1, 0, 255).astype(np.uint8)
    return cv2.resize(image, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class Pose:
    """Where the card is held: rotation in degrees, centre in pixels, scale."""

    angle: float
    x: float
    y: float
    scale: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> Pose:
        width, height = FRAME_SIZE
        return cls(float(rng.uniform(-12, 12)), width / 2 + float(rng.uniform(-60, 60)),
                   height / 2 + float(rng.uniform(-30, 30)), float(rng.uniform(0.85, 1.05)))

    def jitter(self, rng: np.random.Generator) -> Pose:
        """The same pose, moved a little, as by a hand holding the card."""
        dx, dy, da = rng.normal(0, 2, 3)
        return Pose(self.angle + float(da) / 2, self.x + float(dx), self.y + float(dy),
                    self.scale)


def label_frame(scene: Scene, rng: np.random.Generator, pose: Pose | None = None) -> np.ndarray:
    """One BGR camera frame showing the scene, held at ``pose`` (random when None)."""
    width, height = FRAME_SIZE
    desk = np.full((height, width, 3), (90, 105, 120), dtype=np.uint8)  # a dim grey-brown desk
    if scene.payload is not None:
        code = qr_matrix(scene.payload, module_px=6)
        side = code.shape[0]
        card = np.full((side + 60, side + 40, 3), 245, dtype=np.uint8)
        card[10:10 + side, 20:20 + side] = code[:, :, None]
        cv2.putText(card, scene.caption[:24], (20, side + 45), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (30, 30, 30), 2, cv2.LINE_AA)
        pose = pose or Pose.random(rng)
        ch, cw = card.shape[:2]
        matrix = cv2.getRotationMatrix2D((cw / 2, ch / 2), pose.angle, pose.scale)
        matrix[:, 2] += (pose.x - cw / 2, pose.y - ch / 2)
        mask = cv2.warpAffine(np.full((ch, cw), 255, np.uint8), matrix, (width, height))
        warped = cv2.warpAffine(card, matrix, (width, height))
        desk[mask > 0] = warped[mask > 0]
    # Uneven light from one side, and sensor noise.
    gradient = np.linspace(float(rng.uniform(0.75, 0.9)), 1.0, width)[None, :, None]
    noisy = desk.astype(np.float32) * gradient + rng.normal(0, 6, desk.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_label_video(path: Path, scenes: list[Scene], *, fps: int = 10, hold_s: float = 1.5,
                      gap_s: float = 1.0, seed: int = 2304) -> Path:
    """Write the scenes, each followed by an empty view, as an MJPG .avi at ``path``."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, FRAME_SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write a video at {path}")
    try:
        empty = Scene(None)
        for scene in scenes:
            pose = Pose.random(rng)
            for _ in range(max(1, round(hold_s * fps))):
                writer.write(label_frame(scene, rng, pose.jitter(rng)))
            for _ in range(max(1, round(gap_s * fps))):
                writer.write(label_frame(empty, rng))
    finally:
        writer.release()
    return path
