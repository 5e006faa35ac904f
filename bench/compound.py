"""A compound on one machine: the centre's config and each gate's, copied from a sample
community (its config file and SQLite store), and its gates' `shelf sync` processes, for the
tests, the benchmark and the proofs."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from kiosk.backup import lock_path
from kiosk.config import Config, load_config

COMMUNITY = "sample-garden"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers there
GATE_NAMES = {"north": "北门", "south": "南门", "east": "东门"}  # as a compound calls them


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
    zh = GATE_NAMES.get(gate, f"{gate}门")
    path.write_text(text + f'\n[gate]\nid = "{gate}"\nname = {{ zh = "{zh}", en = '
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


def wait_until_syncing(sync: subprocess.Popen[bytes], gate: Config, log: Path) -> None:
    """Until a `shelf sync` process holds its lock: started (Python's imports done), about to
    push. Read from /proc/locks, since probing the lock could make the sync fail to take it."""
    lock = lock_path(gate.database, "sync")
    deadline = time.monotonic() + 120
    while not holds_flock(sync.pid, lock):
        if sync.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"`shelf sync` did not start: see {log}")
        time.sleep(0.02)


def holds_flock(pid: int, path: Path) -> bool:
    """Does process ``pid`` hold a flock on ``path`` (``/proc/locks``: pid, dev:ino)?"""
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return False
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and str(pid) in fields and any(
                f.count(":") == 2 and f.rsplit(":", 1)[1] == str(inode) for f in fields):
            return True
    return False
