"""Shared fixtures: a real community on disk (config file, SQLite file, households)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.community import init_community, open_store
from kiosk.config import Config
from kiosk.households import import_households

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


def check_in(conn, config, clock, household: str, ref: str | None = None):
    """Check a parcel in through the real service, as the kiosk would; it must succeed."""
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label
    from kiosk.services import act_on_payload

    label = make_label(config.label_secret, HouseholdId.parse(household), ref)
    result = act_on_payload(label.encode(), conn, config, clock)
    assert result.action == "checkin", result
    return result


def pickup_code(conn, household: str) -> str:
    """The code the household was sent to collect its waiting parcels."""
    return conn.execute("SELECT code FROM pickup_codes WHERE household_id = ? AND used_at IS NULL",
                        (household,)).fetchone()["code"]


def fill_floor(conn, config, clock, parcels: int, prefix: str = "F") -> list:
    """Check parcels in until ``parcels`` more lie in the overflow place; return those.

    By then every slot these households may use is full: a lockdown week in miniature.
    """
    households = ["24-2304", "24-2403", "2-902", "13-1102", "29-1004"]
    on_floor = []
    for n in range(300):
        result = check_in(conn, config, clock, households[n % len(households)],
                          f"{prefix}{n:04d}")
        if result.slot == config.overflow.code:
            on_floor.append(result)
            if len(on_floor) == parcels:
                return on_floor
    raise AssertionError(f"only {len(on_floor)} parcels reached the overflow place")


@pytest.fixture
def factory():
    """A fresh gpiozero MockFactory per test, reset afterwards (gpiozero's own pattern)."""
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    yield factory
    factory.reset()


def wait_for(condition, timeout: float = 2.0) -> None:
    """Poll until ``condition()`` holds: blinks and beeps run in gpiozero's own threads."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download). `make test` installs it."""
    if not CHROMIUM.exists():
        message = f"Debian's Chromium is not installed at {CHROMIUM} (apt install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the browser tests, never quietly skip them
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
