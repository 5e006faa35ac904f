"""Shared fixtures: a real community on disk (config file, SQLite file, households)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.households import import_households
from kiosk.setup import init_community, open_store

ADMIN_PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def community(tmp_path: Path) -> Config:
    """The sample community written by `shelf init`, with its households imported."""
    config, _ = init_community(tmp_path / "community", ADMIN_PASSWORD)
    conn = open_store(config)
    report = import_households(conn, config, config.path.parent / "households.csv",
                               datetime(2026, 11, 28, tzinfo=UTC))
    conn.close()
    assert not report.refused
    return config


@pytest.fixture
def conn(community: Config):
    connection = open_store(community)
    yield connection
    connection.close()
