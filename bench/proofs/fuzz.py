"""Run the fuzzing properties (``fuzz_cases.py``) under pytest; sum up what they reached."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.proofs.verdict import Verdict

CASES = Path(__file__).with_name("fuzz_cases.py")


def prove() -> Verdict:
    with tempfile.TemporaryDirectory(prefix="shelf-fuzz-") as tmp:
        tally_file = Path(tmp) / "tally.json"
        env = {**os.environ, "SHELF_FUZZ_TALLY": str(tally_file)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "-rfE", str(CASES)], capture_output=True, text=True, env=env)
        tally = json.loads(tally_file.read_text()) if tally_file.exists() else {}
    examples = int(env.get("SHELF_FUZZ_EXAMPLES", "10000"))
    reached = "; ".join(f"{test}: {_counts(counts)}" for test, counts in tally.items())
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-2000:])
        failed = re.findall(r"^(?:FAILED|ERROR) \S+::(\w+)", done.stdout, flags=re.MULTILINE)
        return Verdict(False, f"{', '.join(failed) or 'pytest'} failed (output above); "
                       f"reached {reached}")
    passed = re.search(r"(\d+) passed", done.stdout)
    return Verdict(True, f"{passed.group(1) if passed else '?'} properties x {examples:,} "
                   f"examples held (no exception, no 500, store consistent): {reached}")


def _counts(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return " ".join(f"{what}={n:,}" for what, n in ordered)
