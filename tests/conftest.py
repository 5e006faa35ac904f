"""Shared fixtures: a real community on disk (config file, SQLite file, households)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from kiosk.clock import ManualClock
from kiosk.community import init_community, open_store
from kiosk.config import Config, load_config
from kiosk.households import import_households
from kiosk.passwords import hash_password
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

ADMIN_PASSWORD = "correct horse battery"
TEST_HASH_ITERATIONS = 1_000  # cheap PBKDF2 hashes of before argon2, for [[web.users]]
# The tests' own admin hash: a real argon2id, just not a slow one.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


# The tests' clock, moved by hand (shared with the proofs).
FakeClock = ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def community_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample community written by `shelf init`, households imported: made once, copied."""
    directory = tmp_path_factory.mktemp("template") / "community"
    config, _ = init_community(directory, ADMIN_PASSWORD)
    conn = open_store(config)
    cheap = hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER)
    conn.execute("UPDATE staff SET password_hash = ? WHERE username = 'admin'", (cheap,))
    report = import_households(SqliteUnitOfWork(conn), config.community.buildings,
                               directory / "households.csv", datetime(2026, 11, 28, tzinfo=UTC),
                               apply=True, rules=Rules.from_config(config))
    assert not report.refused
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file, for copying
    conn.close()
    return directory


@pytest.fixture
def community(tmp_path: Path, community_template: Path) -> Config:
    """A fresh copy of the sample community for this test."""
    shutil.copytree(community_template, tmp_path / "community")
    return load_config(tmp_path / "community" / "config.toml")


@pytest.fixture
def conn(community: Config):
    connection = open_store(community)
    yield connection
    connection.close()


@pytest.fixture
def uow(conn) -> SqliteUnitOfWork:
    return SqliteUnitOfWork(conn)


@pytest.fixture
def rules(community: Config) -> Rules:
    return Rules.from_config(community)


def check_in(conn, config, clock, household: str, ref: str | None = None):
    """Check a parcel in through the real service, as the kiosk would; it must succeed."""
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label
    from kiosk.services import act_on_payload

    label = make_label(config.label_secret, HouseholdId.parse(household), ref)
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config),
                            clock)
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
        if result.slot == config.layout.overflow.code:
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


def _noted_pin_class():
    from gpiozero.pins.mock import MockPin

    class NotedPin(MockPin):
        """A mock pin that notes every value written to it, a repeat too, and the thread that
        wrote it: a pattern's steps in order, whatever time each took on a busy machine."""

        def __init__(self, factory, info):
            self.writes: list[tuple[bool, threading.Thread]] = []
            super().__init__(factory, info)

        def _set_state(self, value):
            super()._set_state(value)
            self.writes.append((bool(value), threading.current_thread()))

        def steps(self) -> list[bool]:
            """The values a pattern's thread wrote (not show() or close() themselves)."""
            return [value for value, thread in self.writes
                    if thread is not threading.main_thread()]

    return NotedPin


@pytest.fixture
def noted():
    """A MockFactory whose pins note every write and its thread (``pin.steps()``), reset after."""
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory(pin_class=_noted_pin_class())
    yield factory
    factory.reset()


# How long a test waits for something that must happen (a thread's pin change, a process's
# line, a page's update) before it calls it missing: generous, for a busy machine. Every wait
# returns as soon as the thing happens, so it costs nothing when all is well.
PATIENCE_S = 60.0


def wait_for(condition, timeout: float = PATIENCE_S, every: float = 0.002) -> None:
    """Poll ``condition()`` every ``every`` seconds until it holds (blinks and beeps run in
    gpiozero's own threads, servers in processes of their own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def real_time_since(started: float) -> timedelta:
    """The real time since ``started`` (a time.monotonic()), a millisecond more for rounding:
    how far a clock started meanwhile (SHELF_NOW's) can have moved on, however busy the
    machine was."""
    return timedelta(seconds=time.monotonic() - started + 0.001)


# A page's waits (a selector, a URL, a response) likewise: Playwright's waits return as soon
# as the thing is there.
BROWSER_TIMEOUT_MS = int(PATIENCE_S * 1000)

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
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             timeout=BROWSER_TIMEOUT_MS)
        yield browser
        browser.close()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# axe-core's impacts that fail a page: a person cannot use something (issue 20).
AXE_FAILS = ("serious", "critical")


def assert_accessible(page, state: str) -> None:
    """axe-core (axe-playwright-python's bundled copy) on the page as it is now: no serious
    or critical violation. ``state`` names the page state in the failure."""
    found = axe_violations(page)
    failing = [v for v in found if v["impact"] in AXE_FAILS]
    assert not failing, f"{state}: axe-core finds " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5]) for v in failing)


AXE_STEPS = 10_000  # milliseconds of a stopped page's time that axe may take (it takes a few)


def axe_violations(page) -> list[dict]:
    """What axe-core finds on the page as it is now.

    axe waits on the page's timers. On a page whose clock the test holds (``page.clock``,
    stopped so that nothing on the screen moves while it is checked), axe is started and its
    timers are run a millisecond at a time until it answers: the page sees no more time pass.
    """
    from axe_playwright_python.sync_playwright import Axe

    if not page.evaluate("!!window.__pwClock"):  # time runs by itself here
        return Axe().run(page).response["violations"]
    page.evaluate(Axe().axe_script)
    page.evaluate("""() => {
        window.__axe = null;
        axe.run({resultTypes: ["violations"]}).then(
            (found) => { window.__axe = {violations: found.violations}; },
            (error) => { window.__axe = {error: String(error)}; });
    }""")
    for _ in range(AXE_STEPS):
        answer = page.evaluate("window.__axe")
        if answer is not None:
            assert "error" not in answer, f"axe-core failed: {answer['error']}"
            return answer["violations"]
        page.clock.run_for(1)
    raise AssertionError(f"axe-core did not answer within {AXE_STEPS} ms of the page's time")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a browser test keeps its screenshots: SHELF_SCREENSHOTS=DIR, else its tmp_path.

    ``SHELF_SCREENSHOTS=docs`` with tests/test_pages_browser.py refreshes the README's."""
    folder = Path(os.environ.get("SHELF_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, path: Path, *, full_page: bool = True) -> Path:
    """The page as a PNG of at most 256 colours: the pages' flat colours survive, the file
    shrinks threefold (docs/ keeps them)."""
    from PIL import Image

    page.screenshot(path=str(path), full_page=full_page)
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, served from a thread: yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@contextlib.contextmanager
def phone_page(browser, *, init_script: str | None = None) -> Iterator:
    """A page the size of a phone (390 x 844, touch, Chinese first)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


class TinyDisk:
    """A small file system of its own (a size-limited tmpfs) to fill up and free again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write until the file system refuses: the next byte anyone writes gets ENOSPC."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (b"\0" * 65536, b"\0"):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, chunk)
        finally:
            os.close(fd)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 2 MB tmpfs at tmp_path/disk; needs the right to mount (root), else the test skips."""
    point = tmp_path / "disk"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs",
                              str(point)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip()}")
    yield TinyDisk(point)
    subprocess.run(["umount", "--lazy", str(point)], check=True)


def make_app(config: Config, clock):
    """The real staff site for ``config`` on ``clock``, in testing mode (flaskr's way)."""
    from web import create_app

    app = create_app(config, clock=clock)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(community: Config, clock):
    return make_app(community, clock)


@pytest.fixture
def client(app):
    return app.test_client()


def add_member(config: Config, username: str, role: str, password: str | None = None, *,
               team: str | None = None, name: str | None = None):
    """A staff account in ``config``'s store, as `shelf users add` makes one (cheaply hashed).

    Its password is ``password``, else "<username> pass"; ``team`` defaults as the CLI's does.
    """
    from kiosk.staff import add_staff

    conn = open_store(config)
    try:
        return add_staff(SqliteUnitOfWork(conn), datetime.now(UTC), username=username,
                         name=name or username.title(), role=role, team=team,
                         password_hash=hash_password(password or f"{username} pass",
                                                     hasher=CHEAP_HASHER),
                         actor="tests@shell", teams=[t.id for t in config.teams])
    finally:
        conn.close()


# The `shelf` command speaks the terminal's language (kiosk/app/words.py): tests that read its
# English lines must not turn Chinese on a machine with LANG=zh_CN.UTF-8.
os.environ["SHELF_LANG"] = "en"


# --- the compound's centre: a real PostgreSQL, started by the tests (bench/pg.py) -------------

@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway cluster per test process (per xdist worker), removed at the end."""
    from bench.pg import make_cluster, remove_cluster

    cluster = make_cluster()
    yield cluster
    remove_cluster(cluster)


@pytest.fixture(scope="session")
def centre_template(pg_cluster) -> str:
    """A database with the centre's schema, copied for each test (a copy takes milliseconds)."""
    from kiosk.centre.db import connect

    with connect(pg_cluster.url(), migrate_schema=False) as admin:
        admin.execute("CREATE DATABASE centre_template")
    connect(pg_cluster.url("centre_template")).close()  # migrated as it opens
    return "centre_template"


_databases = iter(range(1, 10**9))


@pytest.fixture
def empty_centre_url(pg_cluster) -> Iterator[str]:
    """A new, empty database of its own for this test: its URL (dropped after the test)."""
    yield from _database(pg_cluster, "template0")


@pytest.fixture
def centre_url(pg_cluster, centre_template) -> Iterator[str]:
    """A new database with the centre's schema for this test: its URL."""
    yield from _database(pg_cluster, centre_template)


def _database(cluster, template: str) -> Iterator[str]:
    from kiosk.centre.db import connect

    name = f"centre_{os.getpid()}_{next(_databases)}"
    with connect(cluster.url(), migrate_schema=False) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield cluster.url(name)
    with connect(cluster.url(), migrate_schema=False) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
