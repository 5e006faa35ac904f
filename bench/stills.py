"""The still per scan: its size and encode time per kind of frame, and what it adds to a check-in.

Frames: the project's own rendered label frames (``kiosk.app.sim.label_video``, 640 x 480 and
scaled to 1280 x 720) and the real photo corpus (``../shared/qr-corpus``, when present). The
check-in is ``act_on_payload`` on a real SQLite file, with and without a still attached, as
the scanner does it (the encoding itself happens before, outside the transaction).
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import CORPUS, repository_path
from bench.community import sample_community
from bench.stats import percentile, summary_ms
from hardware.stills import MAX_BYTES, JpegStills
from kiosk.app.sim.label_video import Scene, label_frame
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.services import Rules, act_on_payload
from kiosk.store import SqliteUnitOfWork

RENDERED = 100
CHECK_INS = 200
ROUNDS = 3  # each frame is encoded this many times for its timing


def _rendered(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(2304)
    return [label_frame(Scene(f"DS1:24-{2300 + n % 99}:SF{n:06d}:ABCDEFGHIJKLMNOP",
                              f"24-{2300 + n % 99}"), rng) for n in range(count)]


def _corpus() -> list[np.ndarray]:
    manifest = CORPUS / "manifest.csv"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8") as rows:
        paths = [CORPUS / row["image"] for row in csv.DictReader(rows)]
    frames = (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths)
    return [f for f in frames if f is not None]


def _row(what: str, frames: Iterable[np.ndarray]) -> dict[str, Any]:
    encoder = JpegStills()
    sizes, times = [], []
    for frame in frames:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            data = encoder.encode(frame)
            times.append(time.perf_counter() - start)
        sizes.append(len(data) / 1024)
    timing = summary_ms(times)
    return {"frames": what, "n": len(sizes), "KB p50": percentile(sizes, 50),
            "KB p95": percentile(sizes, 95), "KB max": max(sizes),
            "over budget": sum(s * 1024 > MAX_BYTES for s in sizes),
            "encode ms p50": timing["p50_ms"], "encode ms p95": timing["p95_ms"]}


def _check_ins(still: bytes | None) -> dict[str, float | int]:
    """Check-ins through the scanner's path, each with ``still`` attached (None: without)."""
    with tempfile.TemporaryDirectory(prefix="shelf-stills-") as tmp:
        config = sample_community(Path(tmp) / "community", real_hash=False)
        conn = open_store(config)
        uow, rules, clock = SqliteUnitOfWork(conn), Rules.from_config(config), ManualClock()
        times = []
        for n in range(CHECK_INS):
            label = make_label(config.label_secret, HouseholdId(24, f"{2300 + n % 6:04d}"),
                               f"S{n:06d}").encode()
            start = time.perf_counter()
            with uow.stills.attached(still):
                act_on_payload(label, uow, rules, clock)
            times.append(time.perf_counter() - start)
            clock.advance(5)
            if n % 10 == 9:  # collect, so the slots never fill up
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE parcels SET status = 'collected' WHERE status = 'waiting'")
                conn.execute("COMMIT")
        conn.close()
    return summary_ms(times)


def run() -> dict[str, Any]:
    rendered = _rendered(RENDERED)
    corpus = _corpus()
    rows = [_row("rendered 640x480", rendered),
            _row("rendered 1280x720", (cv2.resize(f, (1280, 720)) for f in rendered[:30]))]
    if corpus:
        rows.append(_row("corpus, all photos", corpus))
        rows.append(_row("corpus, >= 320 px wide", (f for f in corpus if f.shape[1] >= 320)))
    still = JpegStills().encode(rendered[0])
    without, with_still = _check_ins(None), _check_ins(still)
    rows += [
        {"frames": "check-in, no still", "n": without["samples"],
         "encode ms p50": without["p50_ms"], "encode ms p95": without["p95_ms"]},
        {"frames": f"check-in + {len(still) / 1024:.1f} KB still", "n": with_still["samples"],
         "encode ms p50": with_still["p50_ms"], "encode ms p95": with_still["p95_ms"]},
    ]
    return {"title": "A still per scan: JPEG at most 320 x 240, quality 75 (lower to fit "
                     f"{MAX_BYTES // 1024} KB); check-in rows: ms of the whole check-in",
            "rows": rows, "corpus": repository_path(CORPUS) if corpus else None}
