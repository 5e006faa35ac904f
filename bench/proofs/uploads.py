"""Hostile uploads against a real ``shelf web``: what each costs the server, and the gate meanwhile.

Issue 18's attacks, by the roles that can make them, on a real waitress server (its own
process, one per attack so that each peak is its own): the 1.5 KB workbook whose
``<dimension>`` claims the whole sheet, a deflate bomb, the same bomb with its zip directory
lying about its size, a row with a value in the last column, each uploaded by the property
company to ``/observation/upload`` (and its preview opened three times) and by the committee to
``/households/import``; four 7000 x 7000 RGBA door photos at once; 25 uploads of the largest
list the site takes, then the prune that ``shelf run`` does hourly. Beside them, what the
limits allow: four 4000 x 4000 photos at once, a compound's list of 5,000 households, and four
lists at the reading limits at once. Meanwhile this process checks a parcel in (and out) every
half second on its own connection, as a second gate would.

Figures: each attack's peak resident memory of the server (the kernel's high-water mark,
VmHWM), over what it held idle; what the uploads make the database grow, and hold before and
after the prune; the check-ins refused during the attacks (goal 0). It holds when a refused
file costs less than ``REFUSED_GOAL_MB``, what the limits allow keeps the server within its
unit's ``MemoryMax=`` (systemd/shelf-web.service: a runaway there costs a restart), every
hostile file is refused with words naming the limit, the lists within the limits are read, the
uploads are gone after the prune, and no check-in was refused.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import hostile
from bench.community import CHEAP_HASHER, sample_community
from bench.proofs.login_flood import Probe
from bench.proofs.verdict import Verdict
from bench.served import Answer, Browser, Site
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.passwords import hash_password
from kiosk.services import Rules, act_on_payload
from kiosk.staff import add_staff
from kiosk.store import SqliteUnitOfWork

REFUSED_GOAL_MB = 50  # a file refused at its upload (a photo: before it is decoded) costs no more
WEB_UNIT = Path(__file__).resolve().parents[2] / "systemd" / "shelf-web.service"
FLOOD_UPLOADS = 25
PHOTOS_AT_ONCE = 4
PROPERTY, COMMITTEE = ("wang-property", "property"), ("li-committee", "committee")


@dataclass(frozen=True)
class Figure:
    """One attack's outcome: the server's peak over its idle memory, and whether it held."""

    name: str
    idle_mb: float
    peak_mb: float
    ok: bool
    note: str = ""

    def line(self) -> str:
        return f"{self.name} +{self.peak_mb:.0f} MB" + ("" if self.ok else f" ({self.note})")


def prove() -> Verdict:
    with tempfile.TemporaryDirectory(prefix="shelf-uploads-") as tmp:
        config = _community(Path(tmp) / "community")
        probe = Probe(config, _unobserved(config))
        stop = threading.Event()
        prober = threading.Thread(target=probe.run, args=(lambda: not stop.is_set(),),
                                  daemon=True)
        prober.start()
        ceiling = memory_max_mb()
        try:
            figures = [_attack(config, Path(tmp), name, attack,
                               REFUSED_GOAL_MB if refused else None, ceiling)
                       for name, attack, refused in ATTACKS]
            disk = _flood_and_prune(config, Path(tmp))
        finally:
            stop.set()
            prober.join(timeout=30)
            probe.close()
    held = [f for f in figures if f.ok]
    line = (f"idle {max(f.idle_mb for f in figures):.0f} MB; peak RSS over idle: "
            f"{', '.join(f.line() for f in figures)} (goal: a refused file < {REFUSED_GOAL_MB}"
            f" MB, the rest within MemoryMax={ceiling}M); {disk.line}; "
            f"{len(probe.checkin_s)} check-ins during the attacks, {probe.refused} refused "
            "(goal 0)")
    return Verdict(len(held) == len(figures) and disk.ok and probe.refused == 0
                   and bool(probe.checkin_s), line)


def _community(directory: Path) -> Config:
    config = sample_community(directory, real_hash=False)
    conn = open_store(config)
    try:
        for username, role in (PROPERTY, COMMITTEE):
            add_staff(SqliteUnitOfWork(conn), datetime.now(UTC), username=username,
                      name=username, role=role, team=None, actor="proof@shell",
                      password_hash=hash_password(_password(username), hasher=CHEAP_HASHER),
                      teams=[t.id for t in config.teams])
    finally:
        conn.close()
    return config


def _password(username: str) -> str:
    return f"{username} pass"


def _unobserved(config: Config) -> list[str]:
    conn = sqlite3.connect(config.database)
    try:
        return [r[0] for r in conn.execute(
            "SELECT id FROM households WHERE under_observation = 0 ORDER BY id LIMIT 6")]
    finally:
        conn.close()


def memory_max_mb() -> int:
    """The staff site's unit's ``MemoryMax=``, in MB."""
    for line in WEB_UNIT.read_text().splitlines():
        if line.startswith("MemoryMax=") and line.endswith("M"):
            return int(line.removeprefix("MemoryMax=").removesuffix("M"))
    raise RuntimeError(f"{WEB_UNIT} sets no MemoryMax= in MB")


def _attack(config: Config, tmp: Path, name: str, attack: Callable[[Site], str],
            goal_mb: float | None, ceiling_mb: int) -> Figure:
    """Run one attack on a server of its own; its figure is the peak over the idle RSS. It
    holds under ``goal_mb`` over idle (None: the whole server under ``ceiling_mb``)."""
    log = tmp / f"web-{name}.log"
    with Site(config, log) as site:
        idle = site.rss_mb()
        site.reset_peak()
        try:
            problem = attack(site)
        except Exception as exc:  # noqa: BLE001  # an attack that broke is a figure too
            problem = f"{type(exc).__name__}: {exc}"
        peak = site.peak_rss_mb() - idle
        if not site.alive():
            problem = problem or f"the server died (stopped at {site.stopped_at_mb} MB)"
    allowed = goal_mb if goal_mb is not None else ceiling_mb - idle
    if peak >= allowed:
        problem = problem or f"over {allowed:.0f} MB"
    if problem:
        kept = Path(tempfile.mkdtemp(prefix="shelf-uploads-logs-"))
        shutil.copy(log, kept / log.name)
        problem += f"; log in {kept}"
    return Figure(name, idle, peak, not problem, problem)


def _observation_upload(data: bytes, name: str, *, expect: str) -> Callable[[Site], str]:
    """The property company uploads ``data`` as the day's list, then opens its preview 3 times.

    ``expect``: "limit" (refused at the upload, naming a limit), "unreadable" (taken, and its
    preview says it cannot be read: a damaged zip), "read" (its rows are shown).
    """

    def attack(site: Site) -> str:
        browser = site.browser()
        browser.sign_in(PROPERTY[0], _password(PROPERTY[0]))
        answer = browser.post("/observation/upload", {"date": "2026-11-29",
                                                      "source": "property"},
                              form="/observation", files={"list": (name, data)})
        if expect == "limit":
            return _refusal_problem(answer)
        if "/observation/list/" not in answer.url:
            return f"the list was not taken ({answer.status})"
        for _ in range(3):
            answer = browser.get(answer.url.removeprefix(site.base))
        shown = "文件无法读取" if expect == "unreadable" else "24-"
        return "" if answer.status == 200 and shown in answer.text else (
            f"its preview answered {answer.status} without {shown!r}")

    return attack


def _lists_at_once(data: bytes, name: str) -> Callable[[Site], str]:
    """Four of the property company upload ``data`` at the same moment, each opening its
    preview: the most a list within the limits can cost the site."""

    def attack(site: Site) -> str:
        browsers = [site.browser() for _ in range(PHOTOS_AT_ONCE)]
        for browser in browsers:
            browser.sign_in(PROPERTY[0], _password(PROPERTY[0]))

        def send(browser: Browser) -> Answer:
            return browser.post("/observation/upload", {"date": "2026-11-29"},
                                form="/observation", files={"list": (name, data)})

        with ThreadPoolExecutor(PHOTOS_AT_ONCE) as pool:
            answers = list(pool.map(send, browsers))
        shown = [a.status == 200 and "/observation/list/" in a.url for a in answers]
        return "" if all(shown) else f"answers {[a.status for a in answers]}"

    return attack


def _households_upload(data: bytes, name: str) -> Callable[[Site], str]:
    """The committee uploads ``data`` as the household list; it must be refused."""

    def attack(site: Site) -> str:
        browser = site.browser()
        browser.sign_in(COMMITTEE[0], _password(COMMITTEE[0]))
        return _refusal_problem(browser.post("/households/import", {}, form="/households/import",
                                             files={"list": (name, data)}))

    return attack


def _refusal_problem(answer: Answer) -> str:
    """"" when the page refuses the file with words naming a limit; else what went wrong."""
    if answer.status == 0:
        return answer.text
    if "上限" not in answer.text and "at most" not in answer.text:
        return f"not refused for its size ({answer.status} at {answer.url})"
    return ""


def _photos(side: int, status: int) -> Callable[[Site], str]:
    """Four staff at doors send a ``side`` x ``side`` RGBA PNG each, at the same moment; each
    must be answered ``status`` (413: too many pixels; 422: read, no code in it)."""
    photo = hostile.big_png(side)

    def attack(site: Site) -> str:
        task = _door_task(site.config)
        browsers = [site.browser() for _ in range(PHOTOS_AT_ONCE)]
        for browser in browsers:
            browser.sign_in(COMMITTEE[0], _password(COMMITTEE[0]))

        def send(browser: Browser) -> Answer:
            return browser.post(f"/tasks/{task}/door", {}, form=f"/tasks/{task}",
                                files={"photo": ("door.png", photo)})

        with ThreadPoolExecutor(PHOTOS_AT_ONCE) as pool:
            answers = list(pool.map(send, browsers))
        statuses = [a.status for a in answers]
        return "" if statuses == [status] * PHOTOS_AT_ONCE else f"answers {statuses}"

    return attack


def _door_task(config: Config) -> int:
    """An open door task (a parcel for a household under observation), made once."""
    conn = open_store(config)
    try:
        found = conn.execute("SELECT id FROM door_tasks WHERE status = 'open'").fetchone()
        if found:
            return int(found[0])
        household = conn.execute("SELECT id FROM households WHERE under_observation = 1"
                                 " ORDER BY id").fetchone()[0]
        label = make_label(config.label_secret, HouseholdId.parse(household), "PROOF")
        act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config),
                       SystemClock())
        return int(conn.execute("SELECT id FROM door_tasks WHERE status = 'open'")
                   .fetchone()[0])
    finally:
        conn.close()


# (name, attack, refused: the file is refused before it is read whole)
ATTACKS: list[tuple[str, Callable[[Site], str], bool]] = [
    ("dimension bomb (obs)", _observation_upload(hostile.dimension_bomb(), "名单.xlsx",
                                                 expect="limit"), True),
    ("deflate bomb (obs)", _observation_upload(hostile.deflate_bomb(), "名单.xlsx",
                                               expect="limit"), True),
    ("lying bomb (obs)", _observation_upload(hostile.lying_bomb(), "名单.xlsx",
                                             expect="unreadable"), True),
    ("last column (obs)", _observation_upload(hostile.wide_row(), "名单.xlsx", expect="limit"),
     True),
    ("dimension bomb (households)", _households_upload(hostile.dimension_bomb(), "住户.xlsx"),
     True),
    ("deflate bomb (households)", _households_upload(hostile.deflate_bomb(), "住户.xlsx"), True),
    (f"{PHOTOS_AT_ONCE} photos 7000x7000", _photos(7000, 413), True),
    (f"{PHOTOS_AT_ONCE} photos 4000x4000", _photos(4000, 422), False),
    ("5,000-household list", _observation_upload(hostile.compound_list(), "全部.xlsx",
                                                 expect="read"), False),
    (f"{PHOTOS_AT_ONCE} lists at the limits at once", _lists_at_once(hostile.largest_list(),
                                                                      "最大.xlsx"), False),
]


@dataclass(frozen=True)
class Disk:
    ok: bool
    line: str


def _flood_and_prune(config: Config, tmp: Path) -> Disk:
    """25 uploads of the largest list the site takes, then the hourly prune, days later."""
    from web.serving import LIST_UPLOAD_BYTES

    size = LIST_UPLOAD_BYTES - 4096  # the form's other fields fit beside it
    with Site(config, tmp / "web-flood.log") as site:
        browser = site.browser()
        browser.sign_in(PROPERTY[0], _password(PROPERTY[0]))
        grown = -_disk_used(config)
        taken = 0
        for n in range(FLOOD_UPLOADS):
            data = f"户号,状态\r\n24-2304,新增\r\n#{n}".encode() + os.urandom(size // 2).hex(
                ).encode()[:size]
            answer = browser.post("/observation/upload", {"date": "2026-11-29"},
                                  form="/observation", files={"list": (f"{n}.csv", data)})
            taken += "/observation/list/" in answer.url
        grown += _disk_used(config)
        kept = _kept_bytes(config)
    days = config.web.uploads_days
    later = (datetime.now(UTC) + timedelta(days=days, hours=1)).isoformat()
    pruned = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                             "stills", "prune", "--json"], capture_output=True, text=True,
                            env={**os.environ, "SHELF_NOW": later})
    after = _kept_bytes(config)
    deleted = json.loads(pruned.stdout)["uploads"]["deleted"] if pruned.returncode == 0 else 0
    mb = 1024 * 1024
    line = (f"{FLOOD_UPLOADS} uploads of {size / mb:.1f} MB: {taken} taken, the database "
            f"{grown / mb:+.1f} MB, uploads holding {kept / mb:.1f} MB in it, {after / mb:.1f} MB "
            f"after the prune {days} days later ({deleted} deleted)")
    return Disk(pruned.returncode == 0 and after == 0 and deleted >= taken, line)


def _disk_used(config: Config) -> int:
    """The database's bytes on disk: its file and its write-ahead log."""
    wal = config.database.with_name(config.database.name + "-wal")
    return config.database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _kept_bytes(config: Config) -> int:
    """What the uploads hold in the database: their bytes and their readings."""
    conn = sqlite3.connect(config.database)
    try:
        return sum(conn.execute(
            f"SELECT COALESCE(SUM(LENGTH(data) + COALESCE(LENGTH(reading), 0)), 0) FROM {table}"
        ).fetchone()[0] for table in ("observation_files", "household_files"))
    finally:
        conn.close()
