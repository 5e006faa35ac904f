"""A compound's configs on one machine: the centre's and each gate's, copied from a sample
community (its config file and SQLite store), for the tests, the benchmark and the proofs."""

from __future__ import annotations

import shutil
from pathlib import Path

from kiosk.config import Config, load_config

COMMUNITY = "sample-garden"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def _with_id(text: str, community: str) -> str:
    return text.replace("[community]\n", f'[community]\nid = "{community}"\n', 1)


def centre_config(folder: Path, template: Path, database: str,
                  community: str = COMMUNITY) -> Config:
    """The centre's config: the sample's community, teams and site, plus [centre] database."""
    shutil.copytree(template, folder)
    path = folder / "config.toml"
    text = _with_id(path.read_text(encoding="utf-8"), community)
    path.write_text(text + f'\n[centre]\ndatabase = "{database}"\n', encoding="utf-8")
    return load_config(path)


def gate_config(folder: Path, template: Path, gate: str, url: str, token: str,
                community: str = COMMUNITY, *, sync_seconds: int = 1) -> Config:
    """A gate of the compound: its own copy of the sample (config and SQLite file)."""
    shutil.copytree(template, folder)
    path = folder / "config.toml"
    text = _with_id(path.read_text(encoding="utf-8"), community)
    path.write_text(text + f'\n[gate]\nid = "{gate}"\nname = {{ zh = "{gate}门", en = '
                    f'"{gate.title()} gate" }}\n\n[centre]\nurl = "{url}"\ntoken = "{token}"\n'
                    f'sync_seconds = {sync_seconds}\n', encoding="utf-8")
    return load_config(path)


def point_at(config: Config, url: str) -> Config:
    """The same gate with its [centre] url changed (cut off: NOWHERE; back: the centre)."""
    assert config.centre is not None
    text = config.path.read_text(encoding="utf-8")
    text = text.replace(f'url = "{config.centre.url}"', f'url = "{url}"')
    config.path.write_text(text, encoding="utf-8")
    return load_config(config.path)
