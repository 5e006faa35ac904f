"""A real ``shelf web`` (waitress, its own process) on a free port, and a signed-in browser of it.

For the proofs and the tests whose fault lives in the server: what a request costs is measured
on the process that serves it (``peak_rss_mb``: the kernel's high-water mark of its resident
memory, which ``reset_peak`` starts again), and a watchdog stops it before a runaway takes the
machine with it.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.app.sim.mailcatcher import free_port
from kiosk.config import Config

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CEILING_MB = 3000  # a server past this is stopped: the figure is then "more than this"


@dataclass(frozen=True)
class Answer:
    """A page as the browser ends up with it: status, where (after redirects), the text."""

    status: int
    url: str
    text: str


class Site:
    """``shelf web`` for ``config``, started on entering, stopped (SIGTERM) on leaving."""

    def __init__(self, config: Config, log: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.config, self.log = config, log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped_at_mb: int | None = None  # the watchdog stopped it at this RSS
        self._watching = threading.Event()

    def __enter__(self) -> Site:
        with open(self.log, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kiosk.app", "--config", str(self.config.path), "web",
                 "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=err, env=self.env)
        self._wait_until_up()
        threading.Thread(target=self._watch, name="rss-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._watching.set()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_mb(self, field: str = "VmRSS") -> float:
        """The server's resident memory now (VmRSS) or at its peak (VmHWM), in MB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M)[1]) / 1024

    def peak_rss_mb(self) -> float:
        if not self.alive():
            return float(self.stopped_at_mb or CEILING_MB)
        return self.rss_mb("VmHWM")

    def reset_peak(self) -> None:
        """Start the high-water mark again from what the server holds now (Linux >= 4.0)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def browser(self) -> Browser:
        return Browser(self.base)

    def _wait_until_up(self) -> None:
        wait_until_up(self.base, self.alive, f"see {self.log}")

    def _watch(self) -> None:
        while not self._watching.wait(0.05):
            try:
                rss = self.rss_mb()
            except (OSError, TypeError):
                return
            if rss > CEILING_MB:
                self.stopped_at_mb = int(rss)
                assert self.process is not None
                self.process.kill()
                return


class Browser:
    """One person's browser: cookies kept, redirects followed, a form's token read from its page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in(self, username: str, password: str) -> Answer:
        answer = self.post("/login", {"username": username, "password": password}, form="/login")
        if "/login" in urllib.parse.urlparse(answer.url).path:
            raise RuntimeError(f"could not sign in as {username}: {answer.status}")
        return answer

    def get(self, path: str) -> Answer:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: Mapping[str, str], *, form: str,
             files: Mapping[str, tuple[str, bytes]] | None = None) -> Answer:
        """Post ``fields`` (and ``files``: name -> (file name, bytes)) with the CSRF token that
        the page at ``form`` carries, as the browser would from that page."""
        token = CSRF_RE.search(self.get(form).text)
        values = {**fields, "csrf_token": token[1] if token else ""}
        if files is None:
            body = urllib.parse.urlencode(values).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            body, kind = multipart(values, files)
        return self._open(urllib.request.Request(self.base + path, body,
                                                 {"Content-Type": kind}))

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=300) as response:
                return Answer(response.status, response.url, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.url, exc.read().decode(errors="replace"))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            return Answer(0, request.full_url, f"no answer: {exc}")  # the server died


def wait_until_up(base: str, alive: Callable[[], bool] = lambda: True, why: str = "",
                  within_s: float = 60) -> None:
    """Wait for ``shelf web`` at ``base`` to answer its sign-in page; RuntimeError if it does
    not within ``within_s``, or stops (``alive``) before."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(f"shelf web did not answer on {base} within {within_s:.0f} s"
                               + (f": {why}" if why else ""))
        time.sleep(0.1)


def multipart(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]]
              ) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends a form with files, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode() for name, value in fields.items()]
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
