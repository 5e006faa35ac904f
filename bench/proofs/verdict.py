"""What a proof returns: whether it held, and the one line that says so with its figure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    ok: bool
    line: str
