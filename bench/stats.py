"""Timing helpers: percentiles in milliseconds."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """p50, p95 and max of timings given in seconds, in milliseconds."""
    return {
        "samples": len(samples_s),
        "p50_ms": round(percentile(samples_s, 50) * 1000, 3),
        "p95_ms": round(percentile(samples_s, 95) * 1000, 3),
        "max_ms": round(max(samples_s) * 1000, 3),
    }


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """Run ``action``; return (seconds it took, what it returned)."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def compare(what: str, figures: Mapping[str, Mapping[str, float]], key: str,
            goal: float | None) -> dict[str, Any]:
    """The 1M figure over the 1k figure; ``goal`` is the most it may be (None: reported only)."""
    ratio = round(figures["1M"][key] / figures["1k"][key], 2)
    return {"what": f"{what} 1M/1k", "ratio": ratio, "goal": goal,
            "ok": goal is None or ratio <= goal}
