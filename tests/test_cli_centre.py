"""The centre and three gates as real `shelf` processes: `shelf centre init`, `shelf centre gate
add`, `shelf web --centre`, `shelf sync` on each gate (each its own SQLite file), `shelf
counts` at the centre."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime

from conftest import check_in

from bench.compound import NOWHERE, centre_config, gate_config, point_at
from kiosk.app.sim.mailcatcher import free_port
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.migrations import load
from kiosk.queries import daily_counts

GATES = ("north", "south", "east")


NOW = {**os.environ, "SHELF_NOW": "2026-11-29T16:00:00+08:00"}  # every process on one day


def shelf(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "kiosk.app", *args], capture_output=True,
                          text=True, timeout=120, env=NOW)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def wait_for(url: str, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read()
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.loads(answer.read())
        except urllib.error.URLError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_a_centre_and_three_gates_as_processes(tmp_path, community_template,
                                               empty_centre_url):
    url = empty_centre_url
    init = json.loads(shelf("centre", "init", "--database", url, "--json").stdout)
    assert init["schema"] == init["migrated"] == len(load("postgresql"))
    assert json.loads(shelf("centre", "init", "--database", url, "--json").stdout)[
        "migrated"] == 0
    centre = centre_config(tmp_path / "centre", community_template, url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "kiosk.app", "web", "--centre", "--port",
                               str(port), "--config", str(centre.path)],
                              stderr=subprocess.PIPE, text=True, env=NOW)
    try:
        assert wait_for(f"{base}/healthz", server)["gates"] == []
        gates = {}
        for gate in GATES:
            added = json.loads(shelf("centre", "gate", "add", gate, "--community",
                                     "sample-garden", "--url", base, "--config",
                                     str(centre.path), "--json").stdout)
            assert (added["gate"], added["community"]) == (gate, "sample-garden")
            assert added["config"]["centre"]["url"] == base
            token = added["config"]["centre"]["token"]
            gates[gate] = gate_config(tmp_path / gate, community_template, gate, base, token)
        again = shelf("centre", "gate", "add", "north", "--community", "sample-garden",
                      "--config", str(centre.path), ok=False)
        assert "registered already" in again.stderr
        assert gates["north"].centre.token not in again.stdout + again.stderr

        clock = ManualClock(datetime(2026, 11, 29, 8, 0, tzinfo=UTC))
        for n, config in enumerate(gates.values()):
            conn = open_store(config)
            for k in range(n + 1):  # 1, 2 and 3 parcels: the kiosk's own use case
                check_in(conn, config, clock, "2-902", f"G{n}-{k}")
            conn.close()
            report = json.loads(shelf("sync", "--once", "--json", "--config",
                                      str(config.path)).stdout)
            assert (report["centre"], report["pending"], report["pulled"]) == (
                "reachable", 0, 0)
            assert report["pushed"] > 0 and report["lag_s"] is None

        health = wait_for(f"{base}/healthz", server)
        assert [(g["gate"], g["pending"], g["lag_s"]) for g in health["gates"]] == [
            ("east", 0, 0.0), ("north", 0, 0.0), ("south", 0, 0.0)]
        counts = json.loads(shelf("counts", "--json", "--date", "2026-11-29", "--config",
                                  str(centre.path)).stdout)
        day = counts["date"]
        per_gate = {c["gate"]: c["checked_in"] for c in counts["gates"]}
        for gate, config in gates.items():
            conn = open_store(config)
            own = daily_counts(conn, date.fromisoformat(day), config.community.timezone)
            conn.close()
            assert own["totals"]["checked_in"] == per_gate[gate]
        assert per_gate == {"north": 1, "south": 2, "east": 3}
        assert counts["totals"]["checked_in"] == 6

        cut = point_at(gates["east"], NOWHERE)
        offline = shelf("sync", "--once", "--json", "--config", str(cut.path), ok=False)
        assert json.loads(offline.stdout)["centre"] == "unreachable"
        assert cut.centre.token not in offline.stdout + offline.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
