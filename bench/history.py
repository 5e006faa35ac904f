"""Stores with a long history: 1k or 1M collected parcels, and a realistic shelf on top.

History is written straight into the store in one transaction (``executemany``), in the shapes
the services leave behind: many households, one used pickup code per parcel, a check-in and a
collection event each, a sent notice, a pickup attempt, ``closed_at`` set. The parcels that
wait on the shelf are then checked in through the real service, so the measured operations see
exactly what a kiosk would. Templates are built once per process and copied for each benchmark.
"""

from __future__ import annotations

import atexit
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from bench.community import sample_community
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import Config, load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.services import Rules, act_on_payload
from kiosk.store import SqliteUnitOfWork
from kiosk.timefmt import iso

SIZES = {"1k": 1_000, "1M": 1_000_000}
WAITING = 40  # parcels on the shelf while measuring: a busy afternoon at the gate
PROBES = 50  # households the measured check-ins are for (none has a parcel waiting)
PER_DAY = 900  # parcels a day through the gate: spreads the history over time
FLOORS, UNITS = 33, 4  # synthetic households: every flat of every configured building
CHUNK = 50_000
SEED = 2304
# Tables that grow with history; a plan that walks one of them costs more every year.
HISTORY_TABLES = ("parcels", "pickup_codes", "events", "outbox", "attempts")


@dataclass(frozen=True)
class Store:
    """A community on disk with ``history`` collected parcels and ``WAITING`` on the shelf."""

    name: str
    history: int
    config: Config
    waiting_households: tuple[str, ...]
    probe_households: tuple[str, ...]  # not under observation: their parcels get pickup codes

    def copy_to(self, directory: Path) -> Store:
        """A private copy of this store (config, households, database) in ``directory``."""
        shutil.copytree(self.config.path.parent, directory)
        config = load_config(directory / self.config.path.name)
        return Store(self.name, self.history, config, self.waiting_households,
                     self.probe_households)


@cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="shelf-bench-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@cache
def template(name: str) -> Store:
    """The store of size ``name`` ("1k" or "1M"), built once per process."""
    return build_store(_workdir() / f"template-{name}", name, SIZES[name])


def fresh_store(name: str, label: str) -> Store:
    """A private copy of the ``name`` template for one benchmark (``label`` names the copy)."""
    return template(name).copy_to(_workdir() / f"{label}-{name}")


def build_store(directory: Path, name: str, history: int, seed: int = SEED) -> Store:
    config = sample_community(directory, real_hash=False)
    conn = open_store(config)
    try:
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB while filling: index inserts
        households = add_households(conn, config)
        people = random.Random(seed)  # the same shelf and probes at every size
        ordinary = [h for h, observed in households if not observed]
        chosen = people.sample(ordinary, WAITING + PROBES)
        waiting, probes = chosen[:WAITING], chosen[WAITING:]
        # A store nobody else has open yet: write history once, straight into the file.
        conn.execute("PRAGMA journal_mode = MEMORY")
        conn.execute("PRAGMA synchronous = OFF")
        fill_history(conn, config, history, [h for h, _ in households],
                     random.Random(seed + 1))
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA journal_mode = WAL")
        shelve(conn, config, waiting)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return Store(name, history, config, tuple(waiting), tuple(probes))


def add_households(conn: sqlite3.Connection, config: Config) -> list[tuple[str, bool]]:
    """Add every flat of every configured building; return (id, under observation) of all."""
    rng = random.Random(SEED)
    now = iso(datetime.now(UTC))
    rows = []
    for building in sorted(config.community.buildings):
        for floor in range(1, FLOORS + 1):
            for unit in range(1, UNITS + 1):
                room = f"{floor}{unit:02d}"
                rows.append((f"{building}-{room}", building, room, f"R{building}-{room}",
                             f"139{rng.randrange(10**8):08d}",
                             f"r{building}-{room}@sample-garden.example",
                             int(rng.random() < 0.05), now))
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT OR IGNORE INTO households VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    return [(r["id"], bool(r["under_observation"]))
            for r in conn.execute("SELECT id, under_observation FROM households ORDER BY id")]


def fill_history(conn: sqlite3.Connection, config: Config, count: int, households: list[str],
                 rng: random.Random) -> None:
    """Write ``count`` collected parcels with their codes, events, notices and attempts."""
    slots = [s.code for s in config.layout.slots]
    span_s = max(1.0, count / PER_DAY) * 86_400
    first = datetime.now(UTC).timestamp() - 2 * 86_400 - span_s
    conn.execute("BEGIN IMMEDIATE")
    try:
        for start in range(1, count + 1, CHUNK):
            ids = range(start, min(start + CHUNK, count + 1))
            rows = _collected(ids, [first + span_s * i / count for i in ids], households,
                              slots, rng)
            for sql, table in _HISTORY_INSERTS:
                conn.executemany(sql, rows[table])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_HISTORY_INSERTS: list[tuple[str, str]] = [
    ("INSERT INTO pickup_codes (id, household_id, code, created_at, used_at)"
     " VALUES (?, ?, ?, ?, ?)", "pickup_codes"),
    ("INSERT INTO parcels (id, label, ref, household_id, slot_code, status, pickup_code_id,"
     " checked_in_at, closed_at) VALUES (?, ?, ?, ?, ?, 'collected', ?, ?, ?)", "parcels"),
    ("INSERT INTO events (at, kind, actor, parcel_id, household_id, slot_code, detail)"
     " VALUES (?, ?, ?, ?, ?, ?, ?)", "events"),
    ("INSERT INTO outbox (created_at, kind, channel, recipient, household_id, parcel_id,"
     " payload, status, attempts, next_attempt_at, sent_at)"
     " VALUES (?, 'pickup_ready', 'email', ?, ?, ?, ?, 'sent', 1, ?, ?)", "outbox"),
    ("INSERT INTO attempts (at, source, ok) VALUES (?, 'pickup:camera', 1)", "attempts"),
]
# The notice a check-in queues (kiosk.notices.queue), as JSON with sorted keys.
_PAYLOAD = ('{"checked_in_at": "%s", "community": "Sample Garden 示例花园", "household": "%s", '
            '"name": "R%s", "parcel": %d, "parcel_ref": "%s", "pickup_code": "%s", '
            '"pickup_qr": "DP1:%s:%s", "place": "%s", "slot": "%s"}')


def _collected(ids: range, arrivals: list[float], households: list[str], slots: list[str],
               rng: random.Random) -> dict[str, list[tuple]]:
    """The rows these collected parcels left behind, keyed by table.

    Labels and passes have the real shape; their MACs are random letters (nothing reads a
    collected parcel's label back, and signing a million of them would only cost time).
    """
    rows: dict[str, list[tuple]] = {table: [] for _, table in _HISTORY_INSERTS}
    who = rng.choices(households, k=len(ids))
    where = rng.choices(slots, k=len(ids))
    for n, pid in enumerate(ids):
        household, slot = who[n], where[n]
        ref, code = f"H{pid:09d}", f"{rng.getrandbits(20) % 10**6:06d}"
        mac = _base32(rng.getrandbits(60))
        t_in = _iso(arrivals[n])
        t_out = _iso(arrivals[n] + rng.uniform(600, 172_800))
        rows["pickup_codes"].append((pid, household, code, t_in, t_out))
        rows["parcels"].append((pid, f"DS1:{household}:{ref}:{mac}", ref, household, slot, pid,
                                t_in, t_out))
        rows["events"].append((t_in, "checked_in", "courier@kiosk", pid, household, slot,
                               f'{{"overflow": false, "ref": "{ref}"}}'))
        rows["events"].append((t_out, "collected", "resident@kiosk", pid, household, slot,
                               '{"via": "qr"}'))
        payload = _PAYLOAD % (t_in, household, household, pid, ref, code, code, mac, slot, slot)
        rows["outbox"].append((t_in, f"r{household}@sample-garden.example", household, pid,
                               payload, t_in, t_in))
        rows["attempts"].append((t_out,))
    return rows


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _base32(bits: int) -> str:
    return "".join(_B32[(bits >> shift) & 31] for shift in range(0, 60, 5))


def _iso(timestamp: float) -> str:
    """``kiosk.store.iso`` of a UTC timestamp, without building datetimes a million times."""
    whole = int(timestamp)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            + f".{int((timestamp - whole) * 1000):03d}+00:00")


def shelve(conn: sqlite3.Connection, config: Config, households: list[str]) -> None:
    """Check one parcel in for each household through the real service: the shelf today."""
    uow, rules, clock = SqliteUnitOfWork(conn), Rules.from_config(config), SystemClock()
    for household in households:
        label = make_label(config.label_secret, HouseholdId.parse(household))
        outcome = act_on_payload(label.encode(), uow, rules, clock)
        if outcome.action != "checkin":
            raise RuntimeError(f"could not shelve a parcel: {outcome}")


def history_walks(conn: sqlite3.Connection, action: Callable[[], object]) -> list[dict]:
    """Run ``action`` and return every statement it ran whose plan walks a history table.

    A plan line ``SCAN t`` (no index), or a scan of an index that is not partial, on one of
    ``HISTORY_TABLES`` reads every row of history: that statement gets slower every year.
    """
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    partial = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'")}
    walks = []
    for sql in dict.fromkeys(statements):
        if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            continue
        plan = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        tables = _tables_by_alias(sql)
        if any(_walks_history(line, tables, partial) for line in plan):
            walks.append({"sql": " ".join(sql.split()), "plan": plan})
    return walks


_KEYWORDS = {"WHERE", "JOIN", "LEFT", "INNER", "CROSS", "ON", "GROUP", "ORDER", "LIMIT", "SET",
             "VALUES", "USING", "NATURAL", "UNION"}


def _tables_by_alias(sql: str) -> dict[str, str]:
    """Map each name a plan may use for a table (the table's own, or its alias) to the table."""
    found = {}
    for table, alias in re.findall(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?",
                                   sql, flags=re.IGNORECASE):
        found[table] = table
        if alias and alias.upper() not in _KEYWORDS:
            found[alias] = table
    return found


def _walks_history(line: str, tables: dict[str, str], partial: set[str]) -> bool:
    """``SCAN t``, or ``SEARCH t`` on a time range alone (``(at<?)``: all that is older)."""
    words = line.split()
    if len(words) < 2 or words[0] not in ("SCAN", "SEARCH"):
        return False
    if words[0] == "SEARCH":
        first = re.search(r"\((\w+)[<>=]", line)
        if first is None or "=" in line or not first[1].endswith("at"):
            return False  # an equality, or a range of names, seeks to a bounded few rows
    if tables.get(words[1], words[1]) not in HISTORY_TABLES:
        return False
    index = words[words.index("INDEX") + 1] if "INDEX" in words else None
    return index not in partial
