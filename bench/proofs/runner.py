"""Run the proofs one after another; print one line each; exit 1 when any failed."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.proofs import fuzz, kill9, login_flood
from bench.proofs.verdict import Verdict


@dataclass(frozen=True)
class Proof:
    name: str
    prove: Callable[[], Verdict]


PROOFS = [
    Proof("kill-9", kill9.prove),
    Proof("fuzz", fuzz.prove),
    Proof("login-flood", login_flood.prove),
    # PLUG IN HERE: 50 clients on the staff page, from bench/staff_page.py (another branch):
    # Proof("staff-page", staff_page_proof),
]
NOT_YET = ["staff-page: 50 clients on the staff page (bench/staff_page.py has not landed)"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every proof (or those named, e.g. ``python -m bench.proofs kill-9``)."""
    wanted = list(sys.argv[1:] if argv is None else argv)
    # The proofs' own calls into the shelf log refusals they provoke on purpose; show only
    # what is unforeseen.
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    failed = 0
    for proof in PROOFS:
        if wanted and proof.name not in wanted:
            continue
        started = time.monotonic()
        try:
            verdict = proof.prove()
        except Exception as exc:  # a proof that cannot run has not proved anything
            verdict = Verdict(False, f"could not run: {type(exc).__name__}: {exc}")
        failed += not verdict.ok
        print(f"{proof.name}: {'' if verdict.ok else 'FAILED: '}{verdict.line} "
              f"[{time.monotonic() - started:.0f} s]", flush=True)
    if not wanted:
        for line in NOT_YET:
            print(f"not run: {line}")
    return 1 if failed else 0
