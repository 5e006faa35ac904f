"""A login flood against a running kiosk: password guessing must not cost a courier a parcel.

Real processes on 127.0.0.1: ``shelf web`` (waitress) for a community whose admin password
hash has the real cost, and ``shelf run`` replaying a video of ``LABELS`` labels with
gpiozero's mock pins. ``CLIENTS`` threads post wrong passwords to /login for the whole replay
(mostly unknown usernames, which the per-username throttle does not stop, and some 'admin').
Meanwhile this process checks a parcel in (and out) every half second on its own connection,
as a second gate would, and times each check-in. It holds when every label was checked in,
the kiosk exited 0 and no timed check-in was refused.
"""

from __future__ import annotations

import http.cookiejar
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

from bench.community import sample_community
from bench.proofs.verdict import Verdict
from bench.served import wait_until_up
from bench.stats import percentile
from kiosk.app.sim.label_video import Scene, write_label_video
from kiosk.app.sim.mailcatcher import free_port
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork

LABELS = 60
CLIENTS = 12
PROBE_HOUSEHOLDS = 6
HOLD_S, GAP_S = 0.5, 0.3  # as tests/test_cli_run.py holds labels up
PROBE_EVERY_S = 0.5
REPLAY_S = LABELS * (HOLD_S + GAP_S)
PATIENCE = 3.5  # a kiosk that needs longer than this many times the replay has fallen behind


def prove() -> Verdict:
    with tempfile.TemporaryDirectory(prefix="shelf-flood-") as tmp:
        config = sample_community(Path(tmp) / "community", real_hash=True)
        video_households, probe_households = _split_households(config)
        labels = [make_label(config.label_secret, HouseholdId.parse(h))
                  for h in (video_households * LABELS)[:LABELS]]
        video = write_label_video(Path(tmp) / "gate.avi",
                                  [Scene(label, "") for label in labels],
                                  hold_s=HOLD_S, gap_s=GAP_S)
        return _flood_while_replaying(config, video, labels, probe_households, Path(tmp))


def _split_households(config: Config) -> tuple[list[str], list[str]]:
    """(households on the video, households the timed check-ins are for): never the same."""
    conn = sqlite3.connect(config.database)
    rows = conn.execute("SELECT id, under_observation FROM households ORDER BY id").fetchall()
    conn.close()
    probes = [h for h, observed in rows if not observed][:PROBE_HOUSEHOLDS]
    return [h for h, _ in rows if h not in probes], probes


def _flood_while_replaying(config: Config, video: Path, labels: list[str], probes: list[str],
                           tmp: Path) -> Verdict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shelf = [sys.executable, "-m", "kiosk.app", "--config", str(config.path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GPIOZERO_PIN_FACTORY": "mock"}
    web_log, kiosk_log = tmp / "web.log", tmp / "kiosk.log"
    with open(web_log, "w") as web_err, open(kiosk_log, "w") as kiosk_err:
        web = subprocess.Popen([*shelf, "web", "--port", str(port)], stderr=web_err, env=env)
        stop = threading.Event()
        statuses: Counter[str] = Counter()
        threads = []
        probe = Probe(config, probes)
        try:
            wait_until_up(base, within_s=30)
            threads = [threading.Thread(target=_guess_passwords, args=(base, stop, statuses, i),
                                        daemon=True) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # the flood at full strength before the first label
            started = time.monotonic()
            kiosk = subprocess.Popen([*shelf, "run", "--camera", f"video:{video}"],
                                     stdout=subprocess.DEVNULL, stderr=kiosk_err, env=env)
            prober = threading.Thread(target=probe.run, args=(lambda: kiosk.poll() is None,),
                                      daemon=True)
            prober.start()
            try:
                exit_code: int | None = kiosk.wait(timeout=REPLAY_S * PATIENCE)
            except subprocess.TimeoutExpired:
                kiosk.kill()
                kiosk.wait()
                exit_code = None
            elapsed = time.monotonic() - started
            prober.join(timeout=30)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            probe.close()
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=15)
    checked = _checked_in(config, labels)
    verdict = _verdict(checked, exit_code, elapsed, statuses, probe,
                       kiosk_log.read_text(errors="replace"))
    if not verdict.ok:  # keep what the processes said, for whoever looks into it
        kept = Path(tempfile.mkdtemp(prefix="shelf-login-flood-logs-"))
        for log in (web_log, kiosk_log):
            shutil.copy(log, kept / log.name)
        verdict = Verdict(False, f"{verdict.line}; logs in {kept}")
    return verdict


def _verdict(checked: int, exit_code: int | None, elapsed: float, statuses: Counter[str],
             probe: Probe, kiosk_log: str) -> Verdict:
    tries = sum(statuses.values())
    answers = " ".join(f"{code}x{n}" for code, n in sorted(statuses.items()))
    timed = probe.checkin_s
    latency = (f"check-in p50 {percentile(timed, 50) * 1000:.0f} ms, p95 "
               f"{percentile(timed, 95) * 1000:.0f} ms, max {max(timed) * 1000:.0f} ms "
               f"({len(timed)} timed, {probe.refused} refused)") if timed else "no timed check-in"
    unavailable = kiosk_log.count("the store is unavailable")
    last_error = next((line for line in reversed(kiosk_log.splitlines())
                       if "locked" in line or "Error" in line or "error" in line), "")
    exit_text = (f"had not finished the {REPLAY_S:.0f} s replay after {elapsed:.0f} s (killed)"
                 if exit_code is None else
                 f"exit {exit_code} after {elapsed:.0f} s for the {REPLAY_S:.0f} s replay")
    line = (f"{CLIENTS} clients, {tries:,} wrong logins ({tries / elapsed:.1f}/s; {answers}) "
            f"during a {LABELS}-label replay: {checked} of {LABELS} labels checked in, kiosk "
            f"{exit_text}, {latency}; kiosk logged the store unavailable {unavailable} times")
    ok = checked == LABELS and exit_code == 0 and probe.refused == 0 and bool(timed)
    if not ok and last_error:
        line += f"; kiosk's last error: {last_error.strip()[-160:]}"
    return Verdict(ok, line)


def _guess_passwords(base: str, stop: threading.Event, statuses: Counter[str],
                     seed: int) -> None:
    """One client: fetch the form once, then post wrong passwords until ``stop``."""
    rng = random.Random(seed)
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/login", timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    while not stop.is_set():
        username = "admin" if rng.random() < 0.25 else f"staff{rng.randrange(10**6)}"
        form = urllib.parse.urlencode({"username": username, "csrf_token": token,
                                       "password": f"guess-{rng.randrange(10**9)}"}).encode()
        try:
            with opener.open(f"{base}/login", form, timeout=60) as response:
                response.read()
                status = str(response.status)
        except urllib.error.HTTPError as exc:
            status = str(exc.code)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            status = type(exc).__name__
        statuses[status] += 1


class Probe:
    """Check a parcel in (and out again) every ``every_s`` on a connection of our own."""

    def __init__(self, config: Config, households: list[str],
                 every_s: float = PROBE_EVERY_S) -> None:
        self.config = config
        self.every_s = every_s
        self.households = households
        self.conn = open_store(config)
        self.uow = SqliteUnitOfWork(self.conn)
        self.rules = Rules.from_config(config)
        self.clock = SystemClock()
        self.checkin_s: list[float] = []
        self.refused = 0
        self.errors: Counter[str] = Counter()  # why refused: error code -> times

    def run(self, going) -> None:
        n = 0
        while going():
            household = self.households[n % len(self.households)]
            n += 1
            label = make_label(self.config.label_secret, HouseholdId.parse(household))
            start = time.perf_counter()
            outcome = act_on_payload(label.encode(), self.uow, self.rules, self.clock,
                                     source="probe")
            self.checkin_s.append(time.perf_counter() - start)
            if outcome.action != "checkin":
                self.refused += 1
                self.errors[outcome.error or outcome.action] += 1
            else:
                self._pick_up(household)
            time.sleep(self.every_s)

    def _pick_up(self, household: str) -> None:
        """Take the probe's parcel back off the shelf so the shelf keeps its shape."""
        try:
            with self.uow:
                code = self.uow.codes.active_for(household)
        except Exception:  # the store is busy: the parcel simply stays on the shelf
            return
        if code is not None:
            act_on_code(code.code, self.uow, self.rules, self.clock, room=household)

    def close(self) -> None:
        self.conn.close()


def _checked_in(config: Config, labels: list[str]) -> int:
    conn = sqlite3.connect(config.database)
    try:
        stored = {r[0] for r in conn.execute("SELECT label FROM parcels")}
    finally:
        conn.close()
    return sum(1 for label in labels if label in stored)
