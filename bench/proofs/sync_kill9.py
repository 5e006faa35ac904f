"""Kill -9 the sync and the centre's PostgreSQL at random moments: nothing lost, nothing twice.

A gate of a compound (a real SQLite store) works on without pause: a child checks parcels
in and out, carries door tasks and makes staff actions (``kill9_driver --gate``), each change
journaled by its triggers. Beside it, a real `shelf sync` pushes the journal to the centre (a
real `shelf web` on a throwaway PostgreSQL cluster that flushes every commit, as in
production) and pulls the centre's commands, which the proof gives between kills: door
deliveries confirmed "on a phone", parcels handed out "from the compound's site", the day's
observation list. 200 times, at a random moment, the proof kills with SIGKILL either the
sync, or the whole PostgreSQL server (every process of it: the database host's power cut,
minus its disk), or one of the server's processes (the one serving a gate's exchange when
there is one: the server then ends every session and recovers). After each kill it checks
``sync_invariants.at_any_moment``; at the end, with the child stopped and the sync caught up,
``sync_invariants.caught_up``: every record of every epoch at the centre once, the centre's
copies equal to the gate's rows, every command applied once, the counts equal.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from bench.community import sample_community
from bench.compound import COMMUNITY, centre_config, gate_config, wait_until_syncing
from bench.pg import Cluster, make_cluster, remove_cluster
from bench.proofs.invariants import broken_rules
from bench.proofs.sync_invariants import at_any_moment, caught_up
from bench.proofs.verdict import Verdict
from bench.servers import shelf_web
from kiosk.centre.commands import confirm_delivery, hand_out_at_centre
from kiosk.centre.db import CentreUnavailable, connect
from kiosk.centre.gates import add_gate
from kiosk.centre.lists import apply_observation_at_centre, import_households_at_centre
from kiosk.config import Config
from kiosk.errors import ShelfError
from kiosk.services import Rules
from kiosk.store import connect as connect_store

KILLS = 200
SEED = 2304
GATE = "north"
LONGEST_LIFE_S = 1.5  # a kill comes within this of the sync's start (or the last kill)
WRITER_PACE_S = 0.01  # the gate's child: an action every 10 ms at most (a busy gate at noon)
COMMANDS = 5  # the centre's decisions for the gate between two kills: up to this many
CATCH_UP_S = 300  # at the end, the sync must have sent everything within this
ACTIVE = ("idle in transaction", "INSERT", "UPDATE", "SELECT", "COMMIT", "BEGIN")
PR_SET_CHILD_SUBREAPER = 36
TARGETS = ("sync", "server", "backend")  # what is killed: chosen at random, equal shares
AIMED = 0.5  # this share of the kills waits for an exchange in flight: mid-batch, mid-commit
LONGEST_AIM_S = 5.0  # ... this long at most (a sync backing off after a failure waits so)


def prove(kills: int = KILLS) -> Verdict:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="shelf-sync-kill9-") as tmp, \
            _cluster() as cluster:
        root = Path(tmp)
        url = _centre_database(cluster)
        template = sample_community(root / "template", real_hash=False).path.parent
        centre = centre_config(root / "centre", template, url)
        with shelf_web(centre.path, root / "centre.log") as web:
            with connect(url) as pg:
                token = add_gate(pg, COMMUNITY, GATE, datetime.now(UTC), actor="proof").token
                import_households_at_centre(
                    pg, COMMUNITY, centre.community.buildings, "households.csv",
                    (template / "households.csv").read_bytes(), datetime.now(UTC),
                    actor="proof", apply=True, rules=Rules.from_config(centre))
            gate = gate_config(root / GATE, template, GATE, web.base, token)
            run = Run(cluster, url, centre, gate, root, rng)
            try:
                return run.prove(kills)
            finally:
                run.stop()


@contextlib.contextmanager
def _cluster() -> Iterator[Cluster]:
    _adopt_orphans()  # the server's processes, once pg_ctl has left them, are ours to reap
    cluster = make_cluster(durable=True)  # every commit flushed, as in production
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


def _centre_database(cluster: Cluster) -> str:
    with connect(cluster.url(), migrate_schema=False) as admin:
        admin.execute("CREATE DATABASE centre")
    connect(cluster.url("centre")).close()  # migrated as it opens
    return cluster.url("centre")


class Run:
    """One gate, its writer, its sync, and the centre's server, killed again and again."""

    def __init__(self, cluster: Cluster, url: str, centre: Config, gate: Config, root: Path,
                 rng: random.Random) -> None:
        self.cluster, self.url, self.centre, self.gate = cluster, url, centre, gate
        self.root, self.rng = root, rng
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.writer = subprocess.Popen(
            [sys.executable, "-m", "bench.proofs.kill9_driver", str(gate.path),
             str(rng.randrange(2**31)), "--gate", str(WRITER_PACE_S)],
            stdout=subprocess.DEVNULL, env=self.env)
        self.sync: subprocess.Popen[bytes] | None = None
        self.killed: Counter[str] = Counter()
        self.not_given: Counter[str] = Counter()  # commands the centre refused itself

    def prove(self, kills: int) -> Verdict:
        for kill in range(kills):
            if self.writer.poll() is not None:
                return Verdict(False, f"the gate's child died by itself ({self.writer.returncode})"
                                      f" before kill {kill + 1}")
            self._start_sync()
            self._give_commands()
            target = self.rng.choice(TARGETS)
            if self.rng.random() < AIMED:
                self.killed["aimed"] += 1
                self.killed["aimed and hit"] += self._wait_for_an_exchange(LONGEST_AIM_S)
            else:
                time.sleep(self.rng.uniform(0, LONGEST_LIFE_S))
            self._kill(target)
            problems = self._check_now()
            if problems:
                return Verdict(False, f"after kill {kill + 1} (of {target}): "
                                      + "; ".join(problems))
        return self._finish(kills)

    # -- the processes -----------------------------------------------------------------------

    def _start_sync(self) -> None:
        if self.sync is not None and self.sync.poll() is None:
            return
        log = open(self.root / "sync.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.sync = subprocess.Popen(
            [sys.executable, "-m", "kiosk.app", "--config", str(self.gate.path), "sync"],
            stdout=subprocess.DEVNULL, stderr=log, env=self.env)
        log.close()
        # A kill while Python imports proves nothing: from when it is about to push.
        wait_until_syncing(self.sync, self.gate, self.root / "sync.log")

    def _kill(self, target: str) -> None:
        if target == "sync":
            assert self.sync is not None
            self.sync.send_signal(signal.SIGKILL)
            self.sync.wait()
            self.killed["sync"] += 1
            return
        titles = _server_processes(self.cluster)
        busy = [pid for pid, title in titles.items() if "centre" in title
                and any(state in title for state in ACTIVE)]
        self.killed["in a transaction" if busy else "between transactions"] += 1
        if target == "server":
            for pid in titles:
                _sigkill(pid)
            self.killed["server"] += 1
            _wait_gone(titles)
            self.cluster.start()  # recovers from its write-ahead log first
        else:
            sessions = [pid for pid, title in titles.items() if "centre" in title]
            victim = (busy or sessions or [p for p, t in titles.items()
                                           if "postgres:" in t and "postmaster" not in t])[0]
            _sigkill(victim)
            self.killed["backend"] += 1
        self._wait_for_server()

    def _wait_for_an_exchange(self, longest_s: float) -> bool:
        """Until a gate's exchange is in a transaction at the centre (True), or ``longest_s``."""
        deadline = time.monotonic() + longest_s
        while time.monotonic() < deadline:
            if any("centre" in title and any(state in title for state in ACTIVE)
                   for title in _server_processes(self.cluster).values()):
                return True
            time.sleep(0.002)
        return False

    def _wait_for_server(self) -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                connect(self.url, migrate_schema=False).close()
                return
            except ShelfError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the centre's PostgreSQL did not come back:\n"
                                       + self.cluster.log()[-2000:]) from None
                time.sleep(0.1)

    def stop(self) -> None:
        for process in (self.writer, self.sync):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()

    # -- the centre's decisions for the gate ------------------------------------------------

    def _give_commands(self) -> None:
        """A few door deliveries, hand-outs or the day's list, as staff would."""
        for _ in range(self.rng.randrange(COMMANDS + 1)):
            self._give_command()

    def _give_command(self) -> None:
        try:
            with connect(self.url, migrate_schema=False) as pg:
                self._decide(pg, self.rng.random())
        except (CentreUnavailable, psycopg.OperationalError):  # recovering from the last kill
            self.not_given["the centre unavailable"] += 1
        except ShelfError:  # delivered or collected meanwhile: refused at once, no command
            self.not_given["refused at the centre"] += 1

    def _decide(self, pg: psycopg.Connection, roll: float) -> None:
        if roll < 0.4:
            task = pg.execute(
                "SELECT origin, id, household_id FROM door_tasks WHERE gate_id = %s"
                " AND status = 'open' ORDER BY random() LIMIT 1", (GATE,)).fetchone()
            if task:
                confirm_delivery(pg, COMMUNITY, GATE, task["origin"], task["id"],
                                 task["household_id"], self.centre.label_secret, actor="proof",
                                 now=datetime.now(UTC))
        elif roll < 0.85:
            parcel = pg.execute(
                "SELECT origin, id FROM parcels WHERE gate_id = %s AND status = 'waiting'"
                " ORDER BY random() LIMIT 1", (GATE,)).fetchone()
            if parcel:
                hand_out_at_centre(pg, COMMUNITY, GATE, parcel["origin"], parcel["id"],
                                   reason="proof", id_checked=True, actor="proof",
                                   now=datetime.now(UTC))
        else:
            self._observation_list(pg, Rules.from_config(self.centre))

    def _observation_list(self, pg: psycopg.Connection, rules: Rules) -> None:
        households = [r["id"] for r in pg.execute(
            "SELECT id FROM households WHERE community_id = %s ORDER BY id", (COMMUNITY,))]
        chosen = self.rng.sample(households, 3)
        rows = "".join(f"{h.split('-')[0]},{h.split('-')[1]},"
                       f"{'新增' if self.rng.random() < 0.5 else '解除'}\n" for h in chosen)
        apply_observation_at_centre(
            pg, COMMUNITY, "day.csv", f"楼栋,房号,状态\n{rows}".encode(), datetime.now(UTC),
            list_date=date.today(), source=f"proof {self.rng.random()}", actor="proof",
            rules=rules)

    # -- the checks ----------------------------------------------------------------------

    def _check_now(self) -> list[str]:
        """``at_any_moment``, read again if the server was still going down or coming up."""
        for _ in range(50):
            try:
                return self._check_once()
            except (CentreUnavailable, psycopg.OperationalError):
                time.sleep(0.2)
                self._wait_for_server()
        raise RuntimeError("the centre's PostgreSQL kept failing the proof's own reads")

    def _check_once(self) -> list[str]:
        gate = connect_store(self.gate.database)
        try:
            with connect(self.url, migrate_schema=False) as pg:
                acked = gate.execute("SELECT acked FROM sync_state").fetchone()[0]
                applied = pg.execute("SELECT max(applied) AS n FROM gate_epochs").fetchone()["n"]
                if applied is not None and applied > acked:
                    self.killed["the centre holds more than the gate heard"] += 1
                return at_any_moment(gate, pg, COMMUNITY, GATE)
        finally:
            gate.close()

    def _finish(self, kills: int) -> Verdict:
        self.writer.send_signal(signal.SIGKILL)  # the gate falls quiet (its own proof is kill-9)
        self.writer.wait()
        if self.sync is not None and self.sync.poll() is None:
            self.sync.send_signal(signal.SIGTERM)
            self.sync.wait(60)
        started = time.monotonic()
        report: dict[str, object] = {}
        while time.monotonic() - started < CATCH_UP_S:
            done = subprocess.run(
                [sys.executable, "-m", "kiosk.app", "--config", str(self.gate.path), "sync",
                 "--once", "--json"], capture_output=True, text=True, env=self.env)
            report = json.loads(done.stdout or "{}")
            if report.get("centre") == "reachable" and report.get("pending") == 0 \
                    and report.get("pulled") == 0:
                break
        else:
            return Verdict(False, f"the sync did not catch up in {CATCH_UP_S} s: {report}")
        gate = connect_store(self.gate.database)
        try:
            with connect(self.url, migrate_schema=False) as pg:
                problems = caught_up(gate, pg, COMMUNITY, GATE, self.gate.community.timezone)
                figures = pg.execute(
                    "SELECT (SELECT count(*) FROM sync_records) AS records,"
                    " (SELECT count(*) FROM events WHERE kind = 'checked_in') AS checkins"
                ).fetchone()
                given = pg.execute(
                    "SELECT kind, count(*) AS n, string_agg(DISTINCT result->>'error', ' ')"
                    " AS why, count(*) FILTER (WHERE status = 'refused') AS refused"
                    " FROM commands GROUP BY kind ORDER BY kind").fetchall()
            problems += broken_rules(gate)
        finally:
            gate.close()
        k = self.killed
        line = (f"{kills} kills ({k['sync']} of `shelf sync`, {k['server']} of the whole "
                f"PostgreSQL server, {k['backend']} of one of its processes; {k['aimed']} aimed "
                f"at a gate's exchange in a transaction at the centre, {k['aimed and hit']} "
                f"found one; of the server's kills, {k['in a transaction']} with an exchange "
                f"in a transaction; {k['the centre holds more than the gate heard']} times the "
                f"centre held a batch the gate had not heard of): {figures['records']} records "
                f"({figures['checkins']} check-ins), commands "
                + ", ".join(f"{c['kind']} {c['n']} ({c['refused']} refused by the gate"
                            + (f": {c['why']})" if c["why"] else ")")
                            for c in given)
                + f", {self.not_given['refused at the centre']} refused at the centre at once: ")
        if problems:
            return Verdict(False, line + "; ".join(problems))
        return Verdict(True, line + "0 lost, 0 twice; the centre's copies equal the gate's "
                                    "rows, every command applied once, the counts equal")


def _server_processes(cluster: Cluster) -> dict[int, str]:
    """The server's processes (its main one and its children) and what each says it does."""
    main = cluster.postmaster_pid()
    if main is None:
        return {}
    found = {main: "postmaster"}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if parent == main:
            found[int(entry.name)] = title
    return found


def _sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _adopt_orphans() -> None:
    """Become the subreaper of this process's descendants (Linux's PR_SET_CHILD_SUBREAPER).

    pg_ctl leaves the server to whoever adopts orphans. Killed, a process stays a zombie
    until that one reaps it, and a new server refuses to start while the old one's pid
    still answers; as their subreaper, this process reaps them itself at once.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _wait_gone(pids: dict[int, str]) -> None:
    """Reap each killed process (ours, as their subreaper), or wait until it is gone."""
    deadline = time.monotonic() + 30
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:  # not ours: someone else reaps it
                if not Path(f"/proc/{pid}").exists():
                    break
            time.sleep(0.01)
