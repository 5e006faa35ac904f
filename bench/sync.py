"""A gate's day pushed to its centre after a day offline, and the gate's check-in beside it.

The centre is real: a `shelf web` (waitress) in front of a throwaway PostgreSQL cluster that
flushes every commit, as in production. Each gate is a copy of the sample community that
joined the centre, then spent a day cut off: 300 parcels checked in (a third of the labels
shown twice), 240 collected with their codes, 30 for households under observation carried to
their doors, a few moved by staff. Then:

- **catch-up**: a real `shelf sync` pushes the day; timed from when it holds its lock (its
  imports done) until the centre has acknowledged the whole day;
- **the centre's apply alone**: the same day through ``kiosk.centre.intake.exchange`` in
  this process (no HTTP, no gate): records a second into PostgreSQL;
- **check-in beside a sync**: the gate's ``act_on_payload`` every 10 ms while its `shelf
  sync` pushes the day; and, in the same round (the order alternating from round to round),
  while another gate's `shelf sync` pushes the same kind of day through the same centre and
  this gate's sync does not run. The goal, a p95 within 1.1x, compares the two: the centre
  (waitress and PostgreSQL) is equally busy in both and on this same machine, where the gate's
  Pi would not carry it; what differs is this gate's own sync, reading its journal and writing
  its acknowledgements beside its kiosk. Both windows open the same way, just after a sync
  process took its lock: the first check-in after that start is slow whatever the process
  then does. A warm loop of check-ins with no sync and an idle centre is printed too, and the
  ratio against it, which counts the co-located centre's work against the gate;
- **a gate with a history joins**: a store with 20,000 collected parcels of history
  (``bench.history``) joins its centre (`shelf sync --once`: its snapshot, then the push)
  while its kiosk checks parcels in: the longest a check-in waited.

The centre runs on this same machine, where the gate's Pi would not share its CPU with it.
So the rounds that judge the goal keep the check-ins on a core of their own and put the
`shelf sync`, the centre's waitress and its PostgreSQL on the others (a Pi has four cores: its
kiosk does not wait for CPU behind its sync). Four more rounds leave every process on every
core, as they come: that ratio, an upper bound that mostly measures two cores shared four
ways, is printed beside it.

How the control came about (2026-12-08, 16 rounds, a quiet machine): against a warm loop the
check-in p95 beside a sync was 1.5-1.9x; the slow check-ins were slow in their COMMIT (the
WAL's fdatasync, 6-15 ms instead of about 1), not waiting for a lock (none found with
``busy_timeout`` 0); the same with the centre's PostgreSQL on tmpfs, the centre's files on
tmpfs, the cores swapped, or the whole day pushed in one batch; and with this gate's sync idle
while another gate pushed through the same centre, the check-ins were as slow (p95 9.5 ms
against 8.2 beside their own push): the centre's work on this machine, not the gate's sync.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.community import sample_community
from bench.compound import COMMUNITY, centre_config, gate_config, wait_until_syncing
from bench.history import build_store
from bench.pg import make_cluster, remove_cluster
from bench.servers import shelf_web, unit_nice
from bench.stats import percentile, summary_ms, timed
from kiosk.centre import intake
from kiosk.centre.db import connect
from kiosk.centre.gates import GateRef, add_gate
from kiosk.clock import ManualClock, SystemClock
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.observation import set_observation
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.staff_actions import move
from kiosk.store import SqliteUnitOfWork
from kiosk.store.journal import Journal
from kiosk.sync.gate import sync_once
from kiosk.sync.link import HttpLink
from kiosk.tasks import act_on_door

PARCELS = 300
COLLECTED = 240
DOORS = ("24-2304", "24-2403", "24-501")  # under observation all day: 30 parcels to the door
ROUNDS = 32  # the check-ins on a core of their own (the goal's measure)
SHARED_ROUNDS = 4  # every process on every core (the upper bound)
PACE_S = 0.01  # a check-in every 10 ms while measuring
CALM = 150  # check-ins per round in a warm loop, no sync process running, the centre idle
GOAL_RATIO = 1.1
SYNC_NICE = unit_nice("shelf-sync.service")  # the sync runs as its unit runs it
HISTORY = 20_000  # collected parcels behind the gate that joins
SEED = 902


def run(rounds: int = ROUNDS, shared_rounds: int = SHARED_ROUNDS) -> dict[str, Any]:
    cores = Cores.of_this_process()
    with tempfile.TemporaryDirectory(prefix="shelf-bench-sync-") as tmp, _centre() as cluster:
        root, url = Path(tmp), cluster.url("centre")
        template = sample_community(root / "template", real_hash=False).path.parent
        centre = centre_config(root / "centre", template, url)
        with shelf_web(centre.path, root / "centre.log") as web, connect(url) as pg:
            day = _applied_alone(pg, root, template, web.base)
            rows = []
            if cores.apart:
                cores.keep_away(cluster.postmaster_pid(), web.process.pid)
                rows = [_round(n, pg, root, template, web.base, cores)
                        for n in range(rounds)]
                cores.share(cluster.postmaster_pid(), web.process.pid)
            shared = [_round(rounds + n, pg, root, template, web.base, None)
                      for n in range(shared_rounds if rows else rounds)]
            joined = _joining(pg, root, web.base)
    return _figures(day, rows or shared, shared if rows else [], joined, cores)


class Cores:
    """The check-ins on one core (``kiosk``), the rest of the gate and the centre on the
    others (``rest``): as on a Pi, whose kiosk does not queue for CPU behind its sync.
    ``apart`` is False on a one-core machine: every round then shares."""

    def __init__(self, kiosk: set[int], rest: set[int]) -> None:
        self.kiosk, self.rest, self.all = kiosk, rest, kiosk | rest
        self.apart = bool(kiosk and rest)

    @classmethod
    def of_this_process(cls) -> Cores:
        usable = sorted(os.sched_getaffinity(0))
        return cls(set(usable[:1]), set(usable[1:]))

    def keep_away(self, *pids: int | None) -> None:
        """These processes, every thread and every child, on the ``rest`` (a child forked
        later, as a PostgreSQL backend is, inherits it)."""
        for pid in pids:
            _set_cores(pid, self.rest)

    def share(self, *pids: int | None) -> None:
        for pid in pids:
            _set_cores(pid, self.all)

    @contextlib.contextmanager
    def for_check_ins(self, placed: bool) -> Iterator[None]:
        """This thread (the check-ins') on ``kiosk`` while measuring, if ``placed``."""
        if placed:
            os.sched_setaffinity(0, self.kiosk)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.all)


def as_the_sync_unit(cores: set[int] | None) -> None:
    """In a `shelf sync` about to start: the ``Nice=`` of systemd/shelf-sync.service, and
    ``cores`` (None: any)."""
    if cores is not None:
        os.sched_setaffinity(0, cores)
    os.nice(SYNC_NICE)


def _set_cores(pid: int | None, cores: set[int]) -> None:
    """``pid`` with all its threads and its children's, on ``cores``."""
    if pid is None:
        return
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(tid), cores)
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            for child in children:
                _set_cores(int(child), cores)


@contextlib.contextmanager
def _centre() -> Iterator[Any]:
    cluster = make_cluster(durable=True)  # every commit flushed, as in production
    try:
        with connect(cluster.url(), migrate_schema=False) as admin:
            admin.execute("CREATE DATABASE centre")
        yield cluster
    finally:
        remove_cluster(cluster)


# -- a gate and its day offline ---------------------------------------------------------------

def _gate(pg: psycopg.Connection, root: Path, template: Path, gate: str,
          url: str) -> tuple[Config, dict[str, int]]:
    """A new gate of the compound that joined the centre, then spent a day cut off."""
    token = add_gate(pg, COMMUNITY, gate, datetime.now(UTC), actor="bench").token
    config = gate_config(root / gate, template, gate, url, token)
    assert config.centre is not None
    conn = open_store(config)
    try:
        joined = sync_once(conn, config, HttpLink(url, config.centre.token), SystemClock())
        if joined.pending or joined.centre != "reachable":
            raise RuntimeError(f"the gate {gate} did not join its centre: {joined.as_json()}")
        before = Journal(conn).state().holds
        a_day(conn, config, random.Random(SEED))
        made = conn.execute("SELECT kind, count(*) AS n FROM sync_journal WHERE seq > ?"
                            " GROUP BY kind", (before,)).fetchall()
    finally:
        conn.close()
    return config, {r["kind"]: r["n"] for r in made}


def a_day(conn: Any, config: Config, rng: random.Random) -> None:
    """One gate's busy day, through the real use cases, the clock moved by hand."""
    uow, rules = SqliteUnitOfWork(conn), Rules.from_config(config)
    clock = ManualClock(datetime.now(UTC) - timedelta(days=1))
    for room in DOORS:
        set_observation(room, True, uow, rules, clock, actor="bench")
    households = [h for h in _households(conn) if h not in DOORS]
    slots = [r["code"] for r in conn.execute("SELECT code FROM slots WHERE active = 1")]
    doors = collected = 0
    for n in range(PARCELS):
        clock.advance(150)
        door = n % 10 == 3
        room = DOORS[doors % len(DOORS)] if door else rng.choice(households)
        label = make_label(config.label_secret, HouseholdId.parse(room)).encode()
        checked = act_on_payload(label, uow, rules, clock)
        if checked.action != "checkin":
            raise RuntimeError(f"a check-in of the day was refused: {checked}")
        if n % 3 == 0:  # the courier shows the label again
            act_on_payload(label, uow, rules, clock)
        if door:
            task = checked.door_task
            assert task is not None
            if act_on_door(task.id, room, uow, rules, clock, actor="li@web").action \
                    != "delivered":
                raise RuntimeError("a door delivery of the day was refused")
            doors += 1
        elif n % 20 == 7:
            with contextlib.suppress(Exception):  # a full slot: staff leave it where it is
                move(checked.parcel, rng.choice(slots), uow=uow, rules=rules, clock=clock,
                     actor="zhang@web", reason="tidying the shelf")
        if collected < COLLECTED and not door and rng.random() < 0.9:
            code = conn.execute("SELECT code FROM pickup_codes WHERE household_id = ?"
                                " AND used_at IS NULL", (room,)).fetchone()
            if code and act_on_code(code["code"], uow, rules, clock, room=room).action \
                    == "pickup":
                collected += 1


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _households(conn: Any) -> list[str]:
    return [r["id"] for r in conn.execute("SELECT id FROM households ORDER BY id")]


# -- the centre's apply alone -------------------------------------------------------------

class DirectLink:
    """The exchange straight into ``kiosk.centre.intake`` (as JSON, as the wire carries it),
    timing the centre's part: what PostgreSQL and the centre's code take of a sync."""

    def __init__(self, pg: psycopg.Connection, gate: GateRef) -> None:
        self.pg, self.gate = pg, gate
        self.seconds: list[float] = []
        self.records = 0

    def exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        sent = json.loads(json.dumps(request))
        took, answer = timed(lambda: intake.exchange(self.pg, self.gate, sent,
                                                     datetime.now(UTC)))
        if request.get("batch"):
            self.seconds.append(took)
            self.records += len(request["batch"]["records"])
        return json.loads(json.dumps(answer, default=str))


def _applied_alone(pg: psycopg.Connection, root: Path, template: Path,
                   url: str) -> dict[str, Any]:
    config, made = _gate(pg, root, template, "direct", url)
    link = DirectLink(pg, GateRef(COMMUNITY, "direct"))
    conn = open_store(config)
    try:
        took, report = timed(lambda: sync_once(conn, config, link, SystemClock()))
    finally:
        conn.close()
    if report.pending:
        raise RuntimeError(f"the direct sync left records behind: {report.as_json()}")
    events = made.get("events", 0)
    return {"made": made, "records": sum(made.values()), "events": events,
            "sync_s": took, "apply_s": sum(link.seconds), "batches": len(link.seconds),
            "batch_ms": summary_ms(link.seconds)}


# -- a round: check-ins with and without a sync beside them ---------------------------------

def _round(n: int, pg: psycopg.Connection, root: Path, template: Path,
           url: str, cores: Cores | None) -> dict[str, Any]:
    """A gate's day pushed beside its check-ins; another gate's day pushed through the same
    centre beside them, this gate's sync not running; then a warm loop of check-ins.
    ``cores``: the check-ins on a core of their own, the syncs on the others (None: every
    process on every core)."""
    config, made = _gate(pg, root, template, f"gate{n}", url)
    other, _ = _gate(pg, root, template, f"other{n}", url)
    bench = CheckIns(config)
    placed = Cores.of_this_process() if cores is None else cores
    sync_cores = placed.rest if cores is not None else placed.all
    try:
        with placed.for_check_ins(cores is not None):
            if n % 2 == 0:
                catch_up_s, beside = bench.beside_a_sync(config, root / f"sync{n}.log",
                                                         sync_cores)
            _, centre_busy = bench.beside_a_sync(other, root / f"other{n}.log", sync_cores)
            if n % 2 == 1:
                catch_up_s, beside = bench.beside_a_sync(config, root / f"sync{n}.log",
                                                         sync_cores)
            calm = bench.measure(CALM)
    finally:
        bench.close()
    return {"records": sum(made.values()), "catch_up_s": catch_up_s, "calm": calm,
            "beside": beside, "centre_busy": centre_busy, "sync_rss_mb": bench.peak_rss_mb}


class CheckIns:
    """The gate's check-ins, timed, on a connection of their own (as the kiosk's)."""

    def __init__(self, config: Config, households: list[str] | None = None) -> None:
        self.config = config
        self.conn = open_store(config)
        self.uow, self.rules = SqliteUnitOfWork(self.conn), Rules.from_config(config)
        self.clock = SystemClock()
        self.households = households or [h for h in _households(self.conn) if h not in DOORS]
        self.rng = random.Random(SEED)
        self.peak_rss_mb = 0.0  # the sync's, as the kernel counts it (VmHWM)

    def once(self) -> float:
        room = HouseholdId.parse(self.rng.choice(self.households))
        label = make_label(self.config.label_secret, room).encode()
        took, checked = timed(lambda: act_on_payload(label, self.uow, self.rules, self.clock))
        if checked.action != "checkin":
            raise RuntimeError(f"a measured check-in did not check in: {checked}")
        time.sleep(PACE_S)
        return took

    def measure(self, count: int) -> list[float]:
        return [self.once() for _ in range(count)]

    def beside_a_sync(self, gate: Config, log: Path, cores: set[int]) -> tuple[float,
                                                                                list[float]]:
        """Check parcels in here while the `shelf sync` of ``gate`` (this gate or another of
        the compound) on ``cores`` pushes what it holds: (catch-up s, check-ins)."""
        conn = self.conn if gate.path == self.config.path else open_store(gate)
        try:
            with _syncing(gate, conn, log, cores) as sync:
                journal = Journal(conn)
                day_ends = journal.state().holds
                started = time.perf_counter()
                samples = []
                while journal.state().acked < day_ends:
                    samples.append(self.once())
                    if time.perf_counter() - started > 600:
                        raise RuntimeError(f"the day was not pushed in 10 minutes: see {log}")
                took = time.perf_counter() - started
                self.peak_rss_mb = max(self.peak_rss_mb, _peak_rss_mb(sync.pid))
        finally:
            if conn is not self.conn:
                conn.close()
        return took, samples

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def _syncing(gate: Config, conn: Any, log: Path,
             cores: set[int]) -> Iterator[subprocess.Popen[bytes]]:
    """A `shelf sync` of ``gate`` (its store open on ``conn``) on ``cores``, from when it
    holds its lock; stopped once it has pushed everything, what was written meanwhile too."""
    with open(log, "wb") as err:
        sync = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config",
                                 str(gate.path), "sync"], stderr=err,
                                preexec_fn=lambda: as_the_sync_unit(cores))
    try:
        wait_until_syncing(sync, gate, log)
        yield sync
        journal, waited = Journal(conn), time.perf_counter()
        while journal.state().acked < journal.state().holds:  # its next period
            if sync.poll() is not None or time.perf_counter() - waited > 600:
                raise RuntimeError(f"the sync did not push it all: see {log}")
            time.sleep(PACE_S)
    finally:
        sync.send_signal(signal.SIGTERM)
        sync.wait(60)


# -- a gate with a history joins its centre --------------------------------------------

def _joining(pg: psycopg.Connection, root: Path, url: str) -> dict[str, Any]:
    """A `shelf sync --once` of a gate that never synced, with HISTORY parcels behind it,
    beside the kiosk's check-ins: how long the longest of them waited."""
    store = build_store(root / "history", "history", HISTORY)
    token = add_gate(pg, COMMUNITY, "veteran", datetime.now(UTC), actor="bench").token
    config = gate_config(root / "veteran", store.config.path.parent, "veteran", url, token)
    bench = CheckIns(config, list(store.probe_households))
    try:
        with open(root / "veteran.log", "wb") as err:
            started = time.perf_counter()
            sync = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config",
                                     str(config.path), "sync", "--once", "--json"],
                                    stdout=subprocess.PIPE, stderr=err,
                                    preexec_fn=lambda: as_the_sync_unit(None))
        samples = []
        while sync.poll() is None:
            samples.append(bench.once())
        took = time.perf_counter() - started
        report = json.loads(sync.communicate()[0] or "{}")
    finally:
        bench.close()
    if report.get("centre") != "reachable" or report.get("error"):  # the last few check-ins
        raise RuntimeError(f"the veteran gate did not catch up: {report}")  # may wait
    return {"history": HISTORY, "records": report["pushed"], "seconds": took,
            "check_ins": summary_ms(samples)}


# -- the figures -------------------------------------------------------------------------

def _figures(day: dict[str, Any], rows: list[dict[str, Any]], shared: list[dict[str, Any]],
             joined: dict[str, Any], cores: Cores) -> dict[str, Any]:
    """``rows``: the rounds that judge the goal (the check-ins on a core of their own where
    the machine has two); ``shared``: the rounds with every process on every core."""
    beside, busy, calm = (_pooled(rows, key) for key in ("beside", "centre_busy", "calm"))
    catch_up = sorted(r["catch_up_s"] for r in rows + shared)
    records = rows[0]["records"]
    median = catch_up[len(catch_up) // 2]
    ratio = _p95_ratio(beside, busy)
    placement = (f"check-ins on core {sorted(cores.kiosk)}, the sync and the centre on"
                 f" {sorted(cores.rest)}" if cores.apart else "every process on the one core"
                 ) + f"; the sync at nice {SYNC_NICE} (systemd/shelf-sync.service)"
    upper, upper_ratios = [], []
    if shared:
        beside_shared, busy_shared = _pooled(shared, "beside"), _pooled(shared, "centre_busy")
        upper = [
            {"what": "check-in, another gate's day pushed through the centre (all on all"
                     " cores)", **summary_ms(busy_shared)},
            {"what": "check-in beside a sync pushing the day (all on all cores)",
             **summary_ms(beside_shared)}]
        upper_ratios = [{"what": "the same, every process on every core (upper bound)",
                         "ratio": _p95_ratio(beside_shared, busy_shared), "goal": None,
                         "ok": True}]
    return {
        "title": f"a gate's day after a day offline ({PARCELS} parcels: {day['events']} events,"
                 f" {day['records']} records) pushed to a centre on PostgreSQL",
        "rows": [
            {"what": "catch-up by `shelf sync` over HTTP (median of rounds)",
             "seconds": round(median, 2), "records_per_s": round(records / median)},
            {"what": "the centre's apply alone (kiosk.centre.intake, PostgreSQL)",
             "seconds": round(day["apply_s"], 2),
             "records_per_s": round(day["records"] / day["apply_s"]),
             "batch_p50_ms": day["batch_ms"]["p50_ms"],
             "batch_p95_ms": day["batch_ms"]["p95_ms"]},
            {"what": "the gate's part and the centre's, no HTTP (sync_once, in process)",
             "seconds": round(day["sync_s"], 2),
             "records_per_s": round(day["records"] / day["sync_s"])},
            {"what": "check-in, warm loop, no sync, the centre idle", **summary_ms(calm)},
            {"what": "check-in while another gate's day is pushed through the centre, this"
                     " gate's sync not running", **summary_ms(busy)},
            {"what": "check-in beside a sync pushing the day", **summary_ms(beside)},
            *upper,
            {"what": f"check-in while a gate with {joined['history']:,} parcels of history"
                     " joins (`shelf sync --once`)", "seconds": round(joined["seconds"], 2),
             "records_per_s": round(joined["records"] / joined["seconds"]),
             **joined["check_ins"]},
        ],
        "ratios": [{"what": "check-in p95 beside its sync pushing the day / beside"
                            " another gate's push (the centre as busy)",
                    "ratio": ratio, "goal": GOAL_RATIO, "ok": ratio <= GOAL_RATIO},
                   {"what": "check-in p95 beside its sync pushing the day / a warm loop (the"
                            " co-located centre's work counted against the gate)",
                    "ratio": _p95_ratio(beside, calm), "goal": None, "ok": True},
                   *upper_ratios],
        "ok": ratio <= GOAL_RATIO,
        "placement": placement,
        "day": {"parcels": PARCELS, "records": day["records"], "by_kind": day["made"],
                "batches": day["batches"]},
        "catch_up_s": [round(s, 2) for s in catch_up],
        "sync_peak_rss_mb": max(r["sync_rss_mb"] for r in rows),
        "join": joined,
    }


def _pooled(rounds: list[dict[str, Any]], key: str) -> list[float]:
    return [s for r in rounds for s in r[key]]


def _p95_ratio(measured: list[float], baseline: list[float]) -> float:
    return round(percentile(measured, 95) / percentile(baseline, 95), 2)
