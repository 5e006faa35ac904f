"""bench/results.json is committed: it must hold figures, not the paths of the machine it ran on."""

from __future__ import annotations

import json
from pathlib import Path

from bench import CORPUS, repository_path
from bench.runner import RESULTS


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_the_committed_results_name_no_absolute_path() -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    absolute = [s for s in strings(results["benchmarks"]) if s.startswith(("/", "~"))
                or (len(s) > 2 and s[1:3] == ":\\")]
    assert absolute == []


def test_the_corpus_is_recorded_relative_to_the_repository() -> None:
    assert repository_path(CORPUS) == "../shared/qr-corpus"
    assert not Path(repository_path(CORPUS)).is_absolute()
