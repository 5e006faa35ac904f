"""Bodies that never finish, against `shelf web`: the database's disk must not fill.

waitress reads a whole body before the site sees the request. ``ATTACKERS`` anonymous clients
each announce a ``POST /login`` of the site's largest upload, send all of it but the last byte,
and hold on for ``HOLD_S``, as the review did (60 of them filled a 96 MB card). The database
and `shelf web`'s temporary directory share a ``DISK_MB`` file system (a tmpfs, mounted when
this runs as root; otherwise a folder on the machine's disk, and the figure says so), as
they share the Pi's SD card under systemd's PrivateTmp. Meanwhile this process checks a
parcel in (and out) every ``PROBE_EVERY_S`` on that database, as the kiosk would.

Three runs: waitress with its defaults (what `shelf web` was: the attack must spool there,
or it proves nothing), `shelf web` now, and `shelf web` behind nginx with the README's block.
It holds when the last two spooled nothing, refused no check-in and stayed within their
memory budget.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.community import sample_community
from bench.proofs.login_flood import Probe
from bench.proofs.verdict import Verdict
from bench.servers import Nginx, nginx_in_front, shelf_web, wait_until_listening
from kiosk.app.sim.mailcatcher import free_port
from kiosk.config import Config
from web.serving import BODIES_IN_MEMORY_BYTES, LARGEST_UPLOAD_BYTES

ATTACKERS = 100
HOLD_S = 20
DISK_MB = 96
PROBE_EVERY_S = 0.1
SAMPLE_EVERY_S = 0.25
SEND_TIMEOUT_S = 3  # an attacker whose bytes nobody reads for this long just holds on
STAFF_WAIT_S = 10  # how long the staff's sign-in page is given during the attack
STAFF_AFTER_S = 3  # ... asked for this long after the attack began
BASE_RSS = 160 * 2**20  # `shelf web` with nothing to hold, and then some
MB = 2**20
# waitress as `shelf web` served it before: its defaults, but for the threads.
DEFAULTS_SERVER = ("import sys; from waitress import serve; from kiosk.config import "
                   "load_config; from web import create_app; serve(create_app(load_config("
                   "sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), threads=4)")


@dataclass
class Run:
    """What one attack did: the server's peaks, and the kiosk's check-ins meanwhile."""

    name: str
    rss_peak: int = 0  # bytes, VmHWM of the server process
    spooled_peak: int = 0  # bytes in the server's (and nginx's) temporary files at most
    disk_used_peak: int = 0  # bytes used on the small file system, above where it started
    connections_peak: int = 0  # connections the server had taken at most
    checkins: int = 0
    refused: int = 0
    refusals: str = ""
    staff_page_s: float | None = None  # the sign-in page's answer during the attack; None: none
    gate_polls: int = 0  # the gate screen's polls answered during the attack, on its connection
    gate_poll_max_s: float = 0.0

    def line(self) -> str:
        staff = ("no answer" if self.staff_page_s is None
                 else f"{self.staff_page_s:.2f} s")
        return (f"{self.name}: peak RSS {self.rss_peak / MB:.0f} MB, spooled "
                f"{self.spooled_peak / MB:.0f} MB, disk used +{self.disk_used_peak / MB:.0f} MB, "
                f"{self.connections_peak} connections taken, sign-in page {staff} "
                f"(of {STAFF_WAIT_S} s), gate screen {self.gate_polls} polls answered (max "
                f"{self.gate_poll_max_s:.2f} s), check-ins refused {self.refused} of "
                f"{self.checkins}"
                + (f" ({self.refusals})" if self.refusals else ""))


def prove() -> Verdict:
    with tempfile.TemporaryDirectory(prefix="shelf-bodies-") as tmp, \
            small_disk(Path(tmp) / "disk") as (disk, small):
        config = sample_community(disk / "community", real_hash=False)
        spool = disk / "tmp"  # the server's TMPDIR: systemd's PrivateTmp, on the same card
        spool.mkdir()
        env = {"TMPDIR": str(spool)}
        runs = [_before(config, disk, spool, env, Path(tmp))]
        with shelf_web(config.path, Path(tmp) / "web.log", env=env) as web:
            runs.append(_attack("shelf web", config, disk, {web.process.pid: spool},
                                _plain(web.port), web.port))
        # A process of its own, so that its peak is its own.
        with (shelf_web(config.path, Path(tmp) / "web-behind.log", env=env) as web,
              nginx_in_front(web.port, disk / "nginx") as front):
            # nginx's own temporary files are on the card too (/var/lib/nginx).
            runs.append(_attack("behind nginx", config, disk, {
                web.process.pid: spool, front.pid: front.directory / "client_body"},
                _tls(front), web.port))
    before, *now = runs
    budget = BASE_RSS + BODIES_IN_MEMORY_BYTES
    held = all(r.spooled_peak == 0 and r.refused == 0 and r.checkins > 0 and r.gate_polls > 0
               and r.rss_peak <= budget for r in now)
    where = (f"on a {DISK_MB} MB file system with the database" if small else
             f"on this machine's disk (not root: no {DISK_MB} MB file system to fill)")
    line = (f"{ATTACKERS} unfinished {LARGEST_UPLOAD_BYTES / MB:.0f} MB bodies held {HOLD_S} s, "
            f"temporary files {where}: " + "; ".join(r.line() for r in runs)
            + f" (goal: nothing spooled, no check-in refused, the gate screen served, RSS "
            f"under {budget / MB:.0f} MB)")
    if before.spooled_peak == 0:
        return Verdict(False, line + "; the attack spooled nothing even on waitress's "
                       "defaults: it proves nothing")
    return Verdict(held, line)


@contextlib.contextmanager
def small_disk(point: Path) -> Iterator[tuple[Path, bool]]:
    """A ``DISK_MB`` tmpfs at ``point`` when this may mount one (root); else a plain folder."""
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700",
                              "tmpfs", str(point)], capture_output=True).returncode == 0
    try:
        yield point, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(point)], check=False)


def _before(config: Config, disk: Path, spool: Path, env: dict[str, str], tmp: Path) -> Run:
    """The same attack on waitress as `shelf web` ran it before (1 GB bodies, spooled)."""
    port = free_port()
    with open(tmp / "defaults.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-c", DEFAULTS_SERVER, str(config.path),
                                   str(port)], stderr=log, env={**os.environ, **env})
    try:
        wait_until_listening(port, server, tmp / "defaults.log")
        return _attack("waitress's defaults (before)", config, disk, {server.pid: spool},
                       _plain(port), port)
    finally:
        server.terminate()
        server.wait(timeout=15)


Connect = Callable[[], socket.socket]


def _plain(port: int) -> Connect:
    return lambda: socket.create_connection(("127.0.0.1", port), timeout=SEND_TIMEOUT_S)


def _tls(front: Nginx) -> Connect:
    context = ssl.create_default_context(cafile=str(front.certificate))

    def connect() -> socket.socket:
        raw = socket.create_connection(("127.0.0.1", front.port), timeout=SEND_TIMEOUT_S)
        return context.wrap_socket(raw, server_hostname="shelf.lan")

    return connect


def _attack(name: str, config: Config, disk: Path, spools: dict[int, Path],
            connect: Connect, web_port: int) -> Run:
    """Attack through ``connect``; watch the servers in ``spools`` (pid -> its temporary
    folder), the first being `shelf web` (on ``web_port``)."""
    run = Run(name)
    pid = next(iter(spools))
    stop = threading.Event()
    start_used = _used(disk)
    base_sockets = _sockets(pid)
    attackers = [threading.Thread(target=_hold_a_body, args=(connect, stop), daemon=True)
                 for _ in range(ATTACKERS)]
    probe = Probe(config, _households(config), every_s=PROBE_EVERY_S)
    prober = threading.Thread(target=probe.run, args=(lambda: not stop.is_set(),), daemon=True)
    staff: list[float | None] = []
    gate = GateScreen(web_port)  # its connection open before the attack, as on the Pi
    gate_thread = threading.Thread(target=gate.run, args=(stop,), daemon=True)
    asker = threading.Thread(target=lambda: staff.append(_staff_page(web_port)), daemon=True)
    try:
        for attacker in attackers:
            attacker.start()
        prober.start()
        gate_thread.start()
        started = time.monotonic()
        while time.monotonic() < started + HOLD_S:
            if asker.ident is None and time.monotonic() > started + STAFF_AFTER_S:
                asker.start()  # once the attack is under way
            run.rss_peak = max(run.rss_peak, _rss_peak(pid))
            run.spooled_peak = max(run.spooled_peak,
                                   sum(_spooled(p, folder) for p, folder in spools.items()))
            run.disk_used_peak = max(run.disk_used_peak, _used(disk) - start_used)
            run.connections_peak = max(run.connections_peak, _sockets(pid) - base_sockets)
            time.sleep(SAMPLE_EVERY_S)
    finally:
        stop.set()
        if asker.ident is not None:
            asker.join(timeout=STAFF_WAIT_S + 5)
        for attacker in attackers:
            attacker.join(timeout=30)
        prober.join(timeout=30)
        gate_thread.join(timeout=30)
        probe.close()
    run.checkins = len(probe.checkin_s)
    run.refused = probe.refused
    run.refusals = " ".join(f"{code} x{n}" for code, n in sorted(probe.errors.items()))
    run.staff_page_s = staff[0] if staff else None
    run.gate_polls, run.gate_poll_max_s = len(gate.answered_s), max(gate.answered_s, default=0)
    return run


class GateScreen:
    """The Pi's own display: one kept-alive connection polling /gate/state every 250 ms."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STAFF_WAIT_S)
        self.conn.request("GET", "/gate/state")
        self.conn.getresponse().read()  # connected and answered before the attack
        self.answered_s: list[float] = []

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(0.25):
                started = time.monotonic()
                self.conn.request("GET", "/gate/state?after=0")
                response = self.conn.getresponse()
                response.read()
                if response.status == 200:
                    self.answered_s.append(time.monotonic() - started)
        except (OSError, http.client.HTTPException):
            pass  # counted: no more answers
        finally:
            self.conn.close()


def _hold_a_body(connect: Connect, stop: threading.Event) -> None:
    """Announce the largest body, send all of it but a byte, then hold on until ``stop``."""
    chunk = b"x" * 65536
    try:
        sock = connect()
    except OSError:
        return
    with sock:
        try:
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: shelf.lan\r\nContent-Type: "
                         b"application/x-www-form-urlencoded\r\nContent-Length: "
                         + str(LARGEST_UPLOAD_BYTES).encode() + b"\r\n\r\n")
            left = LARGEST_UPLOAD_BYTES - 1
            while left and not stop.is_set():
                sent = sock.send(chunk[:left])
                left -= sent
        except OSError:  # nobody reads (a full queue) or the server gave up on us: hold on
            pass
        stop.wait()


def _staff_page(port: int) -> float | None:
    """Seconds for the sign-in page straight from shelf web during the attack; None: none."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=STAFF_WAIT_S) as sock:
            sock.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if not sock.recv(16).startswith(b"HTTP/1.1 200"):
                return None
    except OSError:
        return None
    return time.monotonic() - started


def _households(config: Config) -> list[str]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(config.database)) as conn:
        return [h for (h,) in conn.execute(
            "SELECT id FROM households WHERE NOT under_observation ORDER BY id LIMIT 6")]


def _rss_peak(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _spooled(pid: int, folder: Path) -> int:
    """Bytes in the files ``pid`` holds open under ``folder`` (deleted ones included)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(str(folder)):
                total += os.stat(fd).st_size
    return total


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def _used(path: Path) -> int:
    stat = os.statvfs(path)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize
