"""Frames from image folders and videos, decoded by the real ZBar: the codes come back exactly."""

from __future__ import annotations

import csv
import logging
import os
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from hardware.camera import (
    LOOP_FPS,
    ImageFolderSource,
    VideoFileSource,
    open_source,
    read_image,
)
from hardware.decoder import ZbarDecoder
from kiosk.errors import ConfigError, ImageUnreadable
from kiosk.ports import Symbol

LABEL = "DS1:24-2304:SF1234567:KX3M7Q2B9HZA"  # the shapes of kiosk.labels' payloads
PASS = "DP1:483920:Q7LZ2M4XKD3A"
CARRIER = "SF1234567890"  # a carrier's Code 128 waybill number
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "qr-corpus"

# Code 128 bar/space widths of values 0-105 (105: START C), then STOP.
CODE128_WIDTHS = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232
122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122
321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311
211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113
213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422
121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111
241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 214121
412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412
211214 211232 2331112
"""
CODE128 = CODE128_WIDTHS.split()
START_B, STOP = 104, 106


def code128(text: str, module_px: int = 3, height: int = 120) -> np.ndarray:
    """A grey image of ``text`` as a Code 128 (set B) barcode with quiet zones."""
    values = [START_B] + [ord(c) - 32 for c in text]
    check = (START_B + sum(i * v for i, v in enumerate(values) if i)) % 103
    widths = "".join(CODE128[v] for v in [*values, check, STOP])
    row = [255] * 10  # quiet zone: ten modules
    for i, width in enumerate(widths):
        row += [0 if i % 2 == 0 else 255] * int(width)  # bars and spaces alternate
    row += [255] * 10
    line = np.repeat(np.array(row, dtype=np.uint8), module_px)
    return np.tile(line, (height, 1))


def qr_png(path: Path, payload: str) -> Path:
    segno.make(payload, error="m").save(path, kind="png", scale=8, border=4)
    return path


@pytest.fixture(scope="module")
def decoder() -> ZbarDecoder:
    return ZbarDecoder()


def payloads(decoder: ZbarDecoder, frame) -> list[bytes]:
    return [symbol.data for symbol in decoder.decode(frame)]


def test_image_folder_frames_decode_to_the_exact_payloads(tmp_path, decoder, caplog):
    qr_png(tmp_path / "01-label.png", LABEL)
    (tmp_path / "drafts").mkdir()  # a sub-folder is not an image
    pass_png = qr_png(tmp_path / "drafts" / "pass.png", PASS)
    cv2.imwrite(str(tmp_path / "02-pass.JPG"), read_image(pass_png))
    (tmp_path / "03-broken.png").write_bytes(b"not a png at all")
    cv2.imwrite(str(tmp_path / "04-waybill.bmp"), code128(CARRIER))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(f"images:{tmp_path}")
    assert isinstance(source, ImageFolderSource)
    with caplog.at_level(logging.WARNING, logger="hardware.camera"):
        found = []
        while (frame := source.read()) is not None:
            assert frame.ndim == 3  # BGR, as from a camera
            found.append(decoder.decode(frame))
    source.close()
    assert found == [
        [Symbol(LABEL.encode(), "QRCODE")],
        [Symbol(PASS.encode(), "QRCODE")],
        [Symbol(CARRIER.encode(), "CODE128")],
    ]
    assert "03-broken.png" in caplog.text


def test_grey_frames_decode_too_and_empty_frames_give_nothing(tmp_path, decoder):
    grey = cv2.imread(str(qr_png(tmp_path / "label.png", LABEL)), cv2.IMREAD_GRAYSCALE)
    assert payloads(decoder, grey) == [LABEL.encode()]
    assert payloads(decoder, np.full((480, 640, 3), 200, np.uint8)) == []


def test_colour_frames_are_read_by_brightness_not_by_one_channel(tmp_path, decoder):
    grey = cv2.imread(str(qr_png(tmp_path / "label.png", LABEL)), cv2.IMREAD_GRAYSCALE)
    blue_ink = np.dstack([np.full_like(grey, 255), grey, grey])  # BGR: dark modules are blue
    assert payloads(decoder, blue_ink) == [LABEL.encode()]


def test_decoder_looks_only_for_the_symbologies_asked_for(tmp_path):
    only_qr = ZbarDecoder(symbols=("QRCODE",))
    assert payloads(only_qr, code128(CARRIER)) == []
    with pytest.raises(ValueError, match="unknown ZBar symbology"):
        ZbarDecoder(symbols=("QR",))


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def label_video(tmp_path_factory) -> Path:
    """14 frames at 10 fps: 4 empty, the label in frames 4-9, 4 empty again."""
    folder = tmp_path_factory.mktemp("video")
    code = read_image(qr_png(folder / "label.png", LABEL))
    blank = np.full((480, 640, 3), 235, np.uint8)
    shown = blank.copy()
    top, left = (480 - code.shape[0]) // 2, (640 - code.shape[1]) // 2
    shown[top:top + code.shape[0], left:left + code.shape[1]] = code
    return write_video(folder / "label.avi", [blank] * 4 + [shown] * 6 + [blank] * 4)


def test_video_frames_hold_the_label_only_while_it_was_shown(label_video, decoder):
    source = VideoFileSource(label_video)
    assert source.fps == pytest.approx(10)
    seen = []
    while (frame := source.read()) is not None:
        seen.append(payloads(decoder, frame) == [LABEL.encode()])
    source.close()
    assert seen == [False] * 4 + [True] * 6 + [False] * 4


class StepClock:
    """The time a replay is paced on (``hardware.camera.time``), kept by the test: a sleep
    moves it on at once, and reading a frame takes no time unless the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_realtime_video_is_paced_like_a_camera_and_can_loop(label_video, monkeypatch):
    import hardware.camera

    clock = StepClock()
    monkeypatch.setattr(hardware.camera, "time", clock)
    source = open_source(f"video:{label_video}")
    for _ in range(4):
        assert source.read() is not None
    assert clock.now == pytest.approx(0.3)  # frames 0-3 at 10 fps span 0.3 s
    source.close()
    faster = open_source(f"video:{label_video}", speed=4)
    started = clock.now
    for _ in range(5):
        assert faster.read() is not None
    assert clock.now - started == pytest.approx(0.1)  # frames 0-4 at 40 fps span 0.1 s
    faster.close()
    slow_reader = open_source(f"video:{label_video}")
    started = clock.now
    assert slow_reader.read() is not None
    clock.now += 0.25  # decoding frame 0 took two and a half frames' time
    for _ in range(3):  # frames 1 and 2 were due already; frame 3 is at 0.3 s, as planned
        assert slow_reader.read() is not None
    assert clock.now - started == pytest.approx(0.3)  # caught up, not drifted to 0.55 s
    slow_reader.close()
    looping = VideoFileSource(label_video, loop=True)
    assert all(looping.read() is not None for _ in range(20))
    looping.close()


@pytest.mark.proof
def test_realtime_video_keeps_time_on_the_real_clock(label_video):
    """Timed on the real clock (`make proofs`)."""
    source = open_source(f"video:{label_video}")
    started = time.monotonic()
    for _ in range(4):
        assert source.read() is not None
    assert 0.28 <= time.monotonic() - started < 2  # frames 0-3 at 10 fps span 0.3 s
    source.close()
    faster = open_source(f"video:{label_video}", speed=4)
    started = time.monotonic()
    for _ in range(5):
        assert faster.read() is not None
    assert 0.09 <= time.monotonic() - started < 0.28  # frames 0-4 at 40 fps span 0.1 s
    faster.close()


def test_a_looped_image_folder_starts_again_at_a_camera_s_pace(tmp_path):
    """[kiosk] replay = "loop": the images again and again (an unreadable one skipped), two a
    second rather than as fast as the CPU goes; close() ends it."""
    cv2.imwrite(str(tmp_path / "1.png"), np.full((48, 64, 3), 10, np.uint8))
    (tmp_path / "2.png").write_text("not an image")
    cv2.imwrite(str(tmp_path / "3.png"), np.full((48, 64, 3), 200, np.uint8))
    source = open_source(f"images:{tmp_path}", loop=True)
    started = time.monotonic()
    shades = [int(source.read()[0, 0, 0]) for _ in range(5)]
    assert shades == [10, 200, 10, 200, 10]
    assert time.monotonic() - started >= 4 / LOOP_FPS - 0.05  # paced: never faster
    source.close()
    assert source.read() is None
    once = open_source(f"images:{tmp_path}")
    assert [once.read() is not None for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("spec", ["images:/tmp/shelf-replay-{n}", "video:/home/pi/{n}.avi",
                                  "video:/root/{n}.avi"])
def test_a_replay_where_the_service_sees_nothing_says_where_to_put_it(spec):
    with pytest.raises(ConfigError, match="put replays in /var/lib/shelf or /srv"):
        open_source(spec.format(n=uuid.uuid4().hex))


@pytest.mark.parametrize(("spec", "message"), [
    ("video:{tmp}/missing.avi", "no such file"),
    ("video:{tmp}/not-a-video.avi", "not a video"),
    ("images:{tmp}/missing", "no such folder"),
    ("images:{tmp}/empty", "no image files"),
    ("device:99", "cannot open /dev/video99"),
    ("device:front", "allowed forms are device:0, picamera2, picamera2:0, video:FILE, images:DIR"),
    ("webcam", "allowed forms are"),
    ("video:", "allowed forms are"),
])
def test_open_source_refuses_with_a_clear_message(tmp_path, spec, message):
    (tmp_path / "not-a-video.avi").write_bytes(b"RIFF nonsense")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=message):
        open_source(spec.format(tmp=tmp_path))


def test_read_image_refuses_what_is_not_an_image(tmp_path):
    (tmp_path / "label.png").write_text("hello")
    with pytest.raises(ImageUnreadable, match="label.png: not an image"):
        read_image(tmp_path / "label.png")


def corpus_rows(*categories: str) -> list[dict[str, str]]:
    if not (CORPUS / "manifest.csv").is_file():
        message = f"the photo corpus is not at {CORPUS} (it lives beside the repository)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI has shared/ beside the clone: never skip quietly there
        pytest.skip(message)
    with open(CORPUS / "manifest.csv", encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f) if row["category"] in categories]


def same_text(data: bytes, expected: str) -> bool:
    # The corpus's expected texts use \n where some codes hold \r\n.
    return data.decode("utf-8", "replace").replace("\r\n", "\n") == expected.replace("\r\n", "\n")


def test_webcam_photographs_of_printed_codes_are_read(decoder):
    rows = corpus_rows("qrcode-1")
    read = [row["image"] for row in rows
            if any(same_text(data, row["expected"])
                   for data in payloads(decoder, read_image(CORPUS / row["image"])))]
    assert len(rows) == 20
    assert len(read) >= 17, f"read only {len(read)} of {len(rows)}: {sorted(read)}"


def test_photographs_without_a_code_give_nothing(decoder):
    rows = corpus_rows("falsepositives")
    assert rows and all(row["negative"] == "1" for row in rows)
    found = {row["image"]: payloads(decoder, read_image(CORPUS / row["image"])) for row in rows}
    assert {image: data for image, data in found.items() if data} == {}
