"""Run the benchmarks, print a table for each, write every figure to ``bench/results.json``.

Each benchmark is a module with ``run() -> dict``. A dict with ``title``, ``rows`` (one dict a
row), ``ratios`` and ``history_walks`` prints as a table; any other dict prints as it is.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")

# One line per benchmark; add yours here (e.g. "bench.staff_page").
BENCHMARKS = [
    "bench.checkin",
    "bench.api_slots",
    "bench.search",
    "bench.staff_page",
    "bench.db_growth",
    "bench.stills",
    "bench.decoding",
    "bench.unseen",
    "bench.labels",
    "bench.presentations",
    "bench.integrity",
    "bench.notices",
    "bench.keypad",
    "bench.sync",
    "bench.district",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark (or those named, e.g. ``python -m bench checkin``)."""
    wanted = list(sys.argv[1:] if argv is None else argv)
    names = [m for m in BENCHMARKS if not wanted or m.rsplit(".", 1)[-1] in wanted]
    if not names:
        print(f"bench: no benchmark called {' '.join(wanted)}; there are: "
              f"{', '.join(m.rsplit('.', 1)[-1] for m in BENCHMARKS)}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "machine": platform.machine(),
                    "cpu_count": os.cpu_count(), "load_average": os.getloadavg()},
        "python": sys.version,
        "benchmarks": {},
    }
    if wanted and RESULTS.exists():  # a few benchmarks again: the others' figures stay
        report["benchmarks"] = json.loads(RESULTS.read_text(encoding="utf-8"))["benchmarks"]
    for name in names:
        started = time.monotonic()
        result = importlib.import_module(name).run()
        result.setdefault("seconds", round(time.monotonic() - started, 1))
        result.setdefault("date", report["date"])
        report["benchmarks"][name.rsplit(".", 1)[-1]] = result
        print(format_result(name, result), flush=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


def format_result(name: str, result: dict[str, Any]) -> str:
    if "rows" not in result:
        return f"{name}\n{json.dumps(result, indent=2, ensure_ascii=False)}\n"
    lines = [result.get("title", name)]
    rows = result["rows"]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    lines += ["  " + "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True))
              for r in cells]
    for ratio in result.get("ratios", []):
        bound = ">=" if ratio.get("at_least") else "<="
        goal = ("" if ratio["goal"] is None else
                f"  (goal {bound} {ratio['goal']}: {'met' if ratio['ok'] else 'MISSED'})")
        lines.append(f"  {ratio['what']}: {ratio['ratio']:.2f}{goal}")
    walks = result.get("history_walks")
    if walks is not None:
        lines.append(f"  statements walking history at 1M: {len(walks) or 'none'}")
        for walk in walks:
            lines.append(f"    {walk['sql'][:160]}")
            lines += [f"      plan: {step}" for step in walk["plan"]]
    lines.append(f"  ({result.get('seconds', '?')} s)")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
