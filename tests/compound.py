"""A compound on one machine: a centre (a real PostgreSQL database, its site served over HTTP
from a thread) and gates (real copies of the sample community: config file and SQLite)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from conftest import PATIENCE_S

from bench.compound import COMMUNITY, NOWHERE, centre_config, gate_config, point_at
from kiosk.centre.db import connect
from kiosk.centre.gates import add_gate
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.store.journal import Journal
from kiosk.sync.gate import SyncReport, sync_once
from kiosk.sync.link import HttpLink


@dataclass
class Gate:
    """A gate of the test compound: its config, and one connection to its store."""

    id: str
    config: Config
    conn: object

    def sync(self, clock, **limits: int) -> SyncReport:
        """One ``shelf sync --once``; ``limits`` (``batch``, ``max_rounds``) cut it short."""
        centre = self.config.centre
        return sync_once(self.conn, self.config, HttpLink(centre.url, centre.token, PATIENCE_S),
                         clock, **limits)

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
