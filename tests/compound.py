"""A compound on one machine: a centre (a real PostgreSQL database, its site served over HTTP
from a thread) and gates (real copies of the sample community: config file and SQLite)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from conftest import PATIENCE_S

from kiosk.centre.db import connect
from kiosk.centre.gates import add_gate
from kiosk.community import open_store
from kiosk.config import Config, load_config
from kiosk.store.journal import Journal
from kiosk.sync.gate import SyncReport, sync_once
from kiosk.sync.link import HttpLink

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
                community: str = COMMUNITY) -> Config:
    """A gate of the compound: its own copy of the sample (config and SQLite file)."""
    shutil.copytree(template, folder)
    path = folder / "config.toml"
    text = _with_id(path.read_text(encoding="utf-8"), community)
    zh = GATE_NAMES.get(gate, f"{gate}门")
    path.write_text(text + f'\n[gate]\nid = "{gate}"\nname = {{ zh = "{zh}", en = '
                    f'"{gate.title()} gate" }}\n\n[centre]\nurl = "{url}"\ntoken = "{token}"\n'
                    'sync_seconds = 1\n', encoding="utf-8")
    return load_config(path)


def point_at(config: Config, url: str) -> Config:
    """The same gate with its [centre] url changed (cut off: NOWHERE; back: the centre)."""
    text = config.path.read_text(encoding="utf-8")
    text = text.replace(f'url = "{config.centre.url}"', f'url = "{url}"')
    config.path.write_text(text, encoding="utf-8")
    return load_config(config.path)


@dataclass
class Gate:
    """A gate of the test compound: its config, and one connection to its store."""

    id: str
    config: Config
    conn: object

    def sync(self, clock) -> SyncReport:
        centre = self.config.centre
        return sync_once(self.conn, self.config, HttpLink(centre.url, centre.token, PATIENCE_S),
                         clock)

    def journal(self) -> Journal:
        return Journal(self.conn)

    def cut_off(self) -> None:
        self.config = point_at(self.config, NOWHERE)

    def reconnect(self, url: str) -> None:
        self.config = point_at(self.config, url)


@contextlib.contextmanager
def compound(tmp_path: Path, template: Path, database: str, gates: tuple[str, ...],
             clock) -> Iterator[tuple[Config, str, dict[str, Gate]]]:
    """A centre served over HTTP and its gates, each registered with its own token."""
    from conftest import served

    from web.centre import create_centre_app

    centre = centre_config(tmp_path / "centre", template, database)
    app = create_centre_app(centre, clock=clock)
    opened: dict[str, Gate] = {}
    with served(app) as url, connect(database) as pg:
        try:
            for gate in gates:
                new = add_gate(pg, COMMUNITY, gate, datetime.now(UTC), actor="tests")
                config = gate_config(tmp_path / gate, template, gate, url, new.token)
                opened[gate] = Gate(gate, config, open_store(config))
            yield centre, url, opened
        finally:
            for gate in opened.values():
                gate.conn.close()
