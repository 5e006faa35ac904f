"""Benchmarks (`make bench`) and proofs (`make proofs`): measured on real parts, never mocks.

``python -m bench`` runs the benchmarks and writes ``bench/results.json``; ``python -m
bench.proofs`` runs the proofs. Neither is part of ``make test``: they take minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
# Real photographs of QR codes with their expected texts, beside the repository when present.
CORPUS = REPOSITORY.parent / "shared" / "qr-corpus"


def repository_path(path: Path) -> str:
    """``path`` as results.json records it: relative to the repository, never this machine's."""
    return Path(os.path.relpath(path, REPOSITORY)).as_posix()
