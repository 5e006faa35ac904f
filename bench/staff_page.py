"""Load the staff shelf page the way a lockdown week does: 2,000 waiting parcels, 50 clients.

Run it from the checkout after `make test` has set up .venv::

    .venv/bin/python -m bench.staff_page [--json PATH] [--parcels N] [--clients N]
                                              [--checkin-every SECONDS]

It builds a throw-away community in a temporary folder, puts the parcels straight into its
store, serves the real app with waitress on 127.0.0.1 (a free port, in a thread), signs in
once, then lets the clients fetch, one target after the other: the page, the grid fragment
in full, the fragment as shelf.js polls it (markup only when it changed), and ``/api/slots``
(complete by contract, so it still grows with the parcels). It prints a table, then the same
figures as one JSON object on the last line of stdout (and into PATH with --json). No traffic
leaves 127.0.0.1.

By default the shelf holds still while it is measured; --checkin-every adds a courier who
checks a parcel in (and lights the slot) that often, so rendered grids go stale as they do
at the gate. The clients share the server's process (and so its GIL): the figures are an
upper bound of what the server alone would take on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from waitress import wasyncore
from waitress.server import create_server

from bench.community import ADMIN_PASSWORD, sample_community
from bench.runner import format_result
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.domain import HouseholdId, SlotLoad, choose_slot
from kiosk.queries import household_ids
from kiosk.store import SqliteUnitOfWork, connect
from web import create_app

PARCELS = 2_000
CLIENTS = 50
REQUESTS_PER_CLIENT = 20
SERVER_THREADS = 8
TARGET_P95_MS = 300  # the page, with PARCELS waiting and CLIENTS at once
START = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# shelf.js's poll: it sends the version of the grid it holds, and gets markup only if stale.
POLL = "/shelf/grid?since={since}"


def build_community(directory: Path, parcels: int) -> Config:
    """A sample community with ``parcels`` waiting, placed by the kiosk's own slot rule."""
    config = sample_community(directory, real_hash=False)
    conn = open_store(config)
    try:
        fill_shelf(conn, config, parcels)
    finally:
        conn.close()
    return config


def fill_shelf(conn: sqlite3.Connection, config: Config, parcels: int) -> None:
    """Check ``parcels`` in within one transaction, without notices or lights (speed)."""
    households = household_ids(conn)
    layout = config.layout
    load: dict[str, SlotLoad] = {}
    with SqliteUnitOfWork(conn) as uow:
        for n in range(parcels):
            household = households[n % len(households)]
            slot = choose_slot(HouseholdId.parse(household), layout.slots, load, layout.overflow)
            uow.parcels.add(f"BENCH:{n}", f"SF{n:010d}", household, slot.code, None,
                            START + timedelta(seconds=30 * n))
            held = load.get(slot.code, SlotLoad())
            load[slot.code] = SlotLoad(held.parcels + 1, held.households | {household})


@contextmanager
def courier(config: Config, every: float) -> Iterator[None]:
    """While inside, check a parcel in onto the floor every ``every`` seconds (0: never)."""
    if every <= 0:
        yield
        return
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        conn = connect(config.database)
        try:
            while not stop.wait(every):
                now = datetime.now(UTC)
                floor = config.layout.overflow.code
                with SqliteUnitOfWork(conn) as uow:
                    uow.parcels.add(f"BENCH:live:{time.time_ns()}", "LIVE", "24-2304",
                                    floor, None, now)
                    uow.signals.set(floor, "on", now + timedelta(seconds=config.kiosk.light_s),
                                    "check-in")
        except BaseException as exc:  # reported below: a quiet courier would flatter the figures
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=work, name="courier", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    if errors:
        raise RuntimeError("the courier stopped checking parcels in") from errors[0]


@contextmanager
def serving(config: Config, threads: int) -> Iterator[int]:
    """Serve the staff site with waitress on 127.0.0.1; yield its port."""
    server = create_server(create_app(config), host="127.0.0.1", port=0, threads=threads,
                           ident="shelf-bench")
    stop = threading.Event()

    def loop() -> None:  # server.run() until asked to stop, so no socket closes under select()
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=loop, name="waitress", daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        stop.set()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)


def fetch(conn: http.client.HTTPConnection, path: str, cookie: str = "",
          form: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """One request on a kept-alive connection; the body is left to the caller to read."""
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if path.startswith("/shelf/grid"):
        headers["Accept"] = "application/json"  # as shelf.js asks
    conn.request("POST" if form is not None else "GET", path, body=body, headers=headers)
    return conn.getresponse()


def session_cookie(response: http.client.HTTPResponse) -> str:
    header = response.getheader("Set-Cookie") or ""
    return header.split(";", 1)[0]


def sign_in(port: int) -> str:
    """Sign in through the real form; return the session cookie ("session=...")."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        form_page = fetch(conn, "/login")
        token = CSRF_RE.search(form_page.read().decode())
        assert token, "no CSRF token on the sign-in form"
        answer = fetch(conn, "/login", session_cookie(form_page), form={
            "csrf_token": token[1], "username": "admin", "password": ADMIN_PASSWORD})
        answer.read()
        assert answer.status == 302, f"sign-in refused: HTTP {answer.status}"
        return session_cookie(answer)
    finally:
        conn.close()


def get_ok(port: int, path: str, cookie: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        response = fetch(conn, path, cookie)
        body = response.read()
        assert response.status == 200, f"{path}: HTTP {response.status}"
        return body
    finally:
        conn.close()


def grid_version(port: int, cookie: str) -> str:
    return json.loads(get_ok(port, "/shelf/grid", cookie))["version"]


def hammer(port: int, path: str, cookie: str, clients: int, requests: int) -> list[float]:
    """``clients`` threads, each sending ``requests`` GETs back to back; their latencies (s).

    On ``POLL`` each client keeps the version of the grid it was last sent, as shelf.js does.
    """
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        since = grid_version(port, cookie) if path == POLL else ""  # that of the page it loaded
        try:
            start.wait()
            for _ in range(requests):
                began = time.perf_counter()
                response = fetch(conn, path.format(since=quote(since)), cookie)
                body = response.read()
                mine.append(time.perf_counter() - began)
                if response.status != 200:
                    failures.append(f"{path}: HTTP {response.status}")
                    return
                if path == POLL:
                    since = json.loads(body)["version"]
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{path}: {exc!r}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} clients failed, first: {failures[0]}")
    return latencies


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(port: int, path: str, cookie: str, clients: int, requests: int) -> dict[str, float]:
    """Size of one response in KB and p50/p95 latency in ms under load."""
    # One response's size (for POLL, an idle one); it also warms templates and caches up.
    since = grid_version(port, cookie) if path == POLL else ""
    size = len(get_ok(port, path.format(since=quote(since)), cookie))
    latencies = hammer(port, path, cookie, clients, requests)
    return {
        "kb": round(size / 1024, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "requests": len(latencies),
    }


TARGETS = {
    "page": "/",
    "fragment": "/shelf/grid",  # in full, as a poll from a stale page gets it
    "fragment_poll": POLL,
    "api_slots": "/api/slots",  # complete by contract: still grows with the parcels
}


def run(json_path: str | Path | None = None, *, parcels: int = PARCELS, clients: int = CLIENTS,
        requests: int = REQUESTS_PER_CLIENT, threads: int = SERVER_THREADS,
        checkin_every: float = 0.0, targets: dict[str, str] | None = None) -> dict[str, Any]:
    """Build, serve and load the staff site; return (and write to ``json_path``) the figures.

    ``targets`` names the paths to load, one after the other (default: ``TARGETS``).
    """
    # 50 clients on 8 workers queue by design; waitress would warn about it on every request.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    figures: dict[str, Any] = {"parcels": parcels, "clients": clients,
                               "requests_per_client": requests, "server_threads": threads,
                               "checkin_every_s": checkin_every}
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        config = build_community(Path(tmp) / "community", parcels)
        with serving(config, threads) as port:
            cookie = sign_in(port)
            for name, path in (targets or TARGETS).items():
                with courier(config, checkin_every):
                    measured = measure(port, path, cookie, clients, requests)
                figures.update({f"{name}_{key}": value for key, value in measured.items()})
    figures |= rows(figures)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


def rows(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as the bench runner prints them: a title, one row per target, a verdict."""
    names = [k.removesuffix("_p95_ms") for k in figures if k.endswith("_p95_ms")]
    courier_note = (f", a check-in every {figures['checkin_every_s']} s"
                    if figures["checkin_every_s"] else "")
    ok = figures["page_p95_ms"] < TARGET_P95_MS
    return {
        "title": f"staff page: {figures['parcels']} waiting parcels, {figures['clients']} "
                 f"clients x {figures['requests_per_client']} requests, waitress threads="
                 f"{figures['server_threads']}{courier_note}; target page p95 < "
                 f"{TARGET_P95_MS} ms: {'met' if ok else 'NOT met'}",
        "rows": [{"what": name, "KB": figures[f"{name}_kb"], "p50 ms": figures[f"{name}_p50_ms"],
                  "p95 ms": figures[f"{name}_p95_ms"], "max ms": figures[f"{name}_max_ms"]}
                 for name in names],
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--parcels", type=int, default=PARCELS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_CLIENT,
                        help="requests per client")
    parser.add_argument("--threads", type=int, default=SERVER_THREADS,
                        help="waitress worker threads")
    parser.add_argument("--checkin-every", type=float, default=0.0, metavar="SECONDS",
                        help="a courier checks a parcel in this often during the load")
    args = parser.parse_args(argv)
    figures = run(args.json, parcels=args.parcels, clients=args.clients,
                  requests=args.requests, threads=args.threads,
                  checkin_every=args.checkin_every)
    print(format_result("bench.staff_page", figures))
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
