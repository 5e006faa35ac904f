"""Every link and picture of the READMEs works from a clone: it names a file of the repository
(a web address aside), never one beside it (issue 20: the first screen linked ../shared)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = ["README.md", "hardware/README.md", "systemd/README.md"]
# [words](target), ![alt](target), <img src="target">, <a href="target">
LINK = re.compile(r"\]\(([^)\s]+)\)|\b(?:src|href)=\"([^\"]+)\"")


@pytest.mark.parametrize("readme", READMES)
def test_every_link_names_a_file_of_the_repository(readme):
    page = ROOT / readme
    targets = [a or b for a, b in LINK.findall(page.read_text(encoding="utf-8"))]
    assert targets, f"{readme} links nothing: the pattern is wrong"
    for target in targets:
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a heading of the page itself
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{readme}: {target} is outside the repository"
        assert path.exists(), f"{readme}: {target} does not exist"
