"""Run the proofs one after another; print one line each; exit 1 when any failed."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import staff_page
from bench.proofs import (
    body_flood,
    fuzz,
    kill9,
    login_flood,
    proxy_attacks,
    shelf_audit,
    sync_kill9,
    uploads,
    wrong_puts,
)
from bench.proofs.verdict import Verdict


@dataclass(frozen=True)
class Proof:
    name: str
    prove: Callable[[], Verdict]


def staff_page_load() -> Verdict:
    """50 staff clients on the page while 2,000 parcels wait (a lockdown week)."""
    f = staff_page.run()
    return Verdict(f["ok"], f"{f['clients']} clients x {f['requests_per_client']} requests, "
                            f"{f['parcels']} parcels waiting: page {f['page_kb']} KB, p95 "
                            f"{f['page_p95_ms']} ms (goal < {staff_page.TARGET_P95_MS} ms); "
                            f"poll p95 {f['fragment_poll_p95_ms']} ms")


def timed_tests() -> Verdict:
    """The tests marked ``proof`` (timed, so kept out of `make test`): run by pytest here."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "proof", "-q", "-p",
                           "no:cacheprovider", "tests"], capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
    failures = [line for line in done.stdout.splitlines() if line.startswith("E ")][:2]
    return Verdict(done.returncode == 0, f"pytest -m proof: {summary}"
                   + (f" ({'; '.join(failures)})" if failures else ""))


PROOFS = [
    Proof("kill-9", kill9.prove),
    Proof("sync-kill-9", sync_kill9.prove),
    Proof("fuzz", fuzz.prove),
    Proof("login-flood", login_flood.prove),
    Proof("proxy", proxy_attacks.prove),
    Proof("body-flood", body_flood.prove),
    Proof("uploads", uploads.prove),
    Proof("staff-page", staff_page_load),
    Proof("wrong-puts", wrong_puts.prove),
    Proof("shelf-audit", shelf_audit.prove),
    Proof("timed-tests", timed_tests),
]


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
    return 1 if failed else 0
