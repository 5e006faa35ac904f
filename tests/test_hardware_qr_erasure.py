"""QR codes read through glare by Reed-Solomon decoding with erasures (``hardware.qr_erasure``),
and where a glare hid a finder, from the two left (``hardware.qr_finders``).

Real parts: the shelf's label exactly as ``kiosk.printing`` prints it, photographed and washed
out by ``kiosk.app.sim.gate_views``; codes made by segno; the kiosk's real decoder chain.
"""

from __future__ import annotations

import numpy as np
import pytest
import segno
from reedsolo import RSCodec

from hardware import qr_erasure, qr_finders
from hardware.decoder import DecoderChain, ZxingDecoder, adaptive_threshold, to_grey
from kiosk.app.sim import gate_views
from kiosk.domain import HouseholdId
from kiosk.labels import make_label, qr_modules
from kiosk.ports import Symbol
from kiosk.printing import LABEL_ERROR

PAYLOAD = make_label(b"s", HouseholdId.parse("24-2304"), "SF1234567")
READ = Symbol(PAYLOAD.encode(), "QRCODE")


def label_views(kind: str, camera: tuple[int, int], count: int = 24) -> list[np.ndarray]:
    rng = np.random.default_rng(23)
    printed = gate_views.shelf_label(PAYLOAD, LABEL_ERROR)
    return [gate_views.view(printed, kind, rng, camera=camera)[0] for _ in range(count)]


def perfect(matrix) -> qr_erasure.Grid:
    dark = np.array(matrix, bool)
    return qr_erasure.Grid(dark, np.ones(dark.shape))


def qr_picture(payload: str, error: str = "m", scale: int = 6) -> np.ndarray:
    rows = segno.make(payload, error=error, micro=False).matrix_iter(scale=scale, border=4)
    return np.array([[0 if dark else 255 for dark in row] for row in rows], np.uint8)


def test_the_sampler_gives_a_clean_label_its_exact_modules_and_codewords():
    """Through the corners of the printed label in a photograph, every module comes out as
    printed, and every block's codewords are a Reed-Solomon codeword as they stand."""
    printed = gate_views.shelf_label(PAYLOAD, LABEL_ERROR)
    frame, corners = gate_views.view(printed, "held", np.random.default_rng(4),
                                     camera=(640, 480))
    modules = np.array(qr_modules(PAYLOAD, LABEL_ERROR), bool)
    grid = qr_erasure.sample(to_grey(frame), corners, len(modules))
    assert (grid.dark == modules).all()
    blocks = qr_erasure.blocks(grid)
    assert [len(b.words) for b in blocks] == [44]  # version 2, level M: one block
    assert all(RSCodec(b.check).check(b.words.tobytes())[0] for b in blocks)
    assert qr_erasure.decode(grid) == PAYLOAD.encode()


@pytest.mark.parametrize(("payload", "error", "version"), [
    ("0123456789012", "h", 1),  # numeric
    ("DS1:24-2304:SF1234567:KX3M7Q2B9HZA", "q", 4),  # alphanumeric, two blocks
    ("https://example.com/parcel?id=" + "x" * 90, "m", 7),  # bytes, version information
    ("某某小区 24-2304 " * 6, "l", 10),  # UTF-8 behind an ECI, blocks of two lengths
])
def test_codes_of_any_mode_version_and_level_are_read_from_their_modules(payload, error,
                                                                           version):
    code = segno.make_qr(payload, error=error, version=version, boost_error=False,
                         encoding=None if payload.isascii() else "utf-8",
                         eci=not payload.isascii())
    assert qr_erasure.decode(perfect(code.matrix)) == payload.encode("utf-8")


def test_a_glare_is_erased_so_twice_as_many_codewords_are_restored():
    """Ten of the 44 codewords wiped out: more than the 8 errors level M corrects, fewer than
    the 16 erasures it restores once the wiped modules are known to be unsure."""
    modules = np.array(qr_modules(PAYLOAD, LABEL_ERROR), bool)
    grid = perfect(modules)
    order = qr_erasure.placement(qr_erasure.function_modules(2))
    wiped = order[8 * 10:8 * 20]  # codewords 10 to 19, each module turned light
    dark, sure = grid.dark.copy(), grid.confidence.copy()
    dark[wiped[:, 0], wiped[:, 1]] = False
    assert qr_erasure.decode(qr_erasure.Grid(dark, sure)) is None  # as errors: too many
    sure[wiped[:, 0], wiped[:, 1]] = 0.05
    assert qr_erasure.decode(qr_erasure.Grid(dark, sure)) == PAYLOAD.encode()


def test_garbage_and_a_code_damaged_beyond_its_correction_are_never_read():
    rng = np.random.default_rng(7)
    modules = np.array(qr_modules(PAYLOAD, LABEL_ERROR), bool)
    for _ in range(300):
        noise = qr_erasure.Grid(rng.random(modules.shape) < 0.5, rng.random(modules.shape))
        assert qr_erasure.decode(noise) is None
        # The label's own format and finders, its data modules random: a forged label.
        forged = modules.copy()
        data = ~qr_erasure.function_modules(2)
        forged[data] = rng.random(int(data.sum())) < 0.5
        assert qr_erasure.decode(qr_erasure.Grid(forged, rng.random(modules.shape))) is None
    # 17 codewords wiped, all of them marked unsure: one more than level M restores.
    order = qr_erasure.placement(qr_erasure.function_modules(2))
    wiped = order[:8 * 17]
    dark, sure = modules.copy(), np.ones(modules.shape)
    dark[wiped[:, 0], wiped[:, 1]] = False
    sure[wiped[:, 0], wiped[:, 1]] = 0.0
    assert qr_erasure.decode(qr_erasure.Grid(dark, sure)) is None


@pytest.mark.parametrize(("kind", "camera", "gained"), [
    ("glare", (1280, 720), (2, 8, 9, 14, 23)),
    ("glare", (640, 480), (6, 7, 13, 15, 17, 20, 21, 23)),
    ("glare_blur_tilt", (1280, 720), (9, 16, 19, 23)),
])
def test_printed_labels_under_glare_that_nothing_else_reads_are_read_by_erasures(
        monkeypatch, kind, camera, gained):
    """The chain reads these views only through the erasure decoder: without it (the rest of
    the chain as it is) it reads none of them, and zxing-cpp alone none either."""
    rendered = label_views(kind, camera, max(gained) + 1)
    views = [rendered[i] for i in gained]
    assert [READ in DecoderChain().decode(frame) for frame in views] == [True] * len(views)
    assert [READ in ZxingDecoder().decode(frame) for frame in views] == [False] * len(views)
    monkeypatch.setattr(qr_erasure, "read", lambda *args, **kwargs: None)
    assert [READ in DecoderChain().decode(frame) for frame in views] == [False] * len(views)


@pytest.mark.parametrize("hidden", [0, 1, 2])
def test_a_code_with_a_finder_washed_out_is_placed_from_the_other_two(hidden):
    picture = qr_picture(PAYLOAD)
    found = qr_finders.finders(adaptive_threshold(picture))
    assert len(found) == 3
    [centre] = [found[hidden]]
    half = round(4 * centre.module)
    y, x = round(centre.y), round(centre.x)
    picture[y - half:y + half, x - half:x + half] = 255  # a blown-out reflection
    assert ZxingDecoder().decode(picture) == []
    two = qr_finders.finders(adaptive_threshold(picture))
    assert len(two) == 2
    outlines = qr_finders.outlines(two)
    read = {qr_erasure.read(picture, corners, version, guesses=len(outlines))
            for corners, version in outlines}
    assert read == {None, PAYLOAD.encode()}  # the wrong guesses read nothing
