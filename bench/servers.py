"""Real servers for tests and proofs: `shelf web` as systemd starts it, Debian's nginx in front.

nginx runs the README's own server block ("Behind TLS on a LAN"), with only its port, its
certificate (made here by openssl) and its upstream's port changed, on 127.0.0.1 as a
process of its own: what an operator copies is what is tested. A client may connect from any
address of 127.0.0.0/8 (Linux answers them all on loopback), so several LAN clients can be
told apart by the address nginx forwards for.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.app.sim.mailcatcher import free_port

README = Path(__file__).resolve().parent.parent / "README.md"
TLS_SECTION = "## Behind TLS on a LAN"
SITE_NAME = "shelf.lan"  # the name the README's blocks serve
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
START_S = 30


def unit_nice(service: str) -> int:
    """The ``Nice=`` our systemd unit ``service`` runs at (0 where it says none): a process
    started here as that unit would be runs at it too."""
    unit = README.parent / "systemd" / service
    found = re.findall(r"^Nice=(-?\d+)$", unit.read_text(encoding="utf-8"), re.M)
    return int(found[-1]) if found else 0


def proxy_blocks() -> dict[str, str]:
    """The README's Caddy and nginx blocks, by name ("caddy", "nginx")."""
    text = README.read_text(encoding="utf-8")
    start = text.index(TLS_SECTION)
    section = text[start:text.index("\n## ", start + len(TLS_SECTION))]
    blocks: dict[str, str] = {}
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        if block.startswith("server {"):
            blocks["nginx"] = block
        elif "reverse_proxy" in block:
            blocks["caddy"] = block
    missing = {"caddy", "nginx"} - set(blocks)
    if missing:
        raise LookupError(f"README {TLS_SECTION!r} has no {', '.join(sorted(missing))} block")
    return blocks


@dataclass
class ShelfWeb:
    """A running `shelf web`: its port, its process, and where it wrote its log."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def shelf_web(config: Path, log: Path, *, env: dict[str, str] | None = None
              ) -> Iterator[ShelfWeb]:
    """`shelf web --port <free>` for ``config`` until the block ends (then SIGTERM)."""
    port = free_port()
    command = [sys.executable, "-m", "kiosk.app", "--config", str(config), "web",
               "--port", str(port)]
    with open(log, "wb") as err:
        process = subprocess.Popen(command, stderr=err,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        wait_until_listening(port, process, log)
        yield ShelfWeb(port, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; raise if it died."""
    deadline = time.monotonic() + START_S
    while True:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.connect(("127.0.0.1", port))
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listened on port {port} within {START_S} s")
        time.sleep(0.05)


@dataclass
class Nginx:
    """nginx on 127.0.0.1:``port`` speaking TLS with ``certificate``, in front of shelf web."""

    port: int
    certificate: Path
    directory: Path  # its prefix: configuration, logs, temporary files (client_body)
    pid: int

    def visitor(self, address: str = "127.0.0.1") -> Visitor:
        return Visitor(self, address)


@contextlib.contextmanager
def nginx_in_front(web_port: int, directory: Path) -> Iterator[Nginx]:
    """Debian's nginx with the README's server block, forwarding to ``web_port``."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise FileNotFoundError("nginx is not installed: run scripts/setup-system --test")
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = _self_signed(directory)
    port = free_port()
    block = proxy_blocks()["nginx"]
    for pattern, value in ((r"listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                           (r"ssl_certificate +\S+;", f"ssl_certificate {certificate};"),
                           (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};"),
                           (r"127\.0\.0\.1:8080", f"127.0.0.1:{web_port}")):
        block, found = re.subn(pattern, value, block)
        if not found:
            raise LookupError(f"the README's nginx block has no {pattern!r} any more")
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = directory / "nginx.conf"
    conf.write_text(f"""daemon off;
master_process off;
pid {directory / 'nginx.pid'};
error_log {directory / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
{block}
}}
""")
    log = directory / "stderr.log"
    with open(log, "wb") as err:
        process = subprocess.Popen([binary, "-p", str(directory), "-c", str(conf),
                                    "-e", str(directory / "error.log")], stderr=err)
    try:
        wait_until_listening(port, process, directory / "error.log")
        yield Nginx(port, certificate, directory, process.pid)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for shelf.lan and 127.0.0.1, and its key (as `tls internal` would)."""
    certificate, key = directory / "shelf.lan.crt", directory / "shelf.lan.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={SITE_NAME}",
                    "-addext", f"subjectAltName=DNS:{SITE_NAME},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    return certificate, key


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str


@dataclass
class Visitor:
    """A browser on the LAN reaching the site through nginx: its own address and cookies.

    It asks for ``https://shelf.lan/...`` (the Host and the name its certificate is checked
    against), whatever port nginx listens on here.
    """

    front: Nginx
    address: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        context = ssl.create_default_context(cafile=str(self.front.certificate))
        conn = http.client.HTTPSConnection("127.0.0.1", self.front.port, timeout=30,
                                           context=context, source_address=(self.address, 0))
        sent = {"Host": SITE_NAME, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.partition(";")[0]
        return Answer(response.status, response.headers, text)

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, fields: dict[str, str], *,
                  referer: str | None = f"https://{SITE_NAME}/login") -> Answer:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if referer:
            headers["Referer"] = referer
        return self.request("POST", path, body=urllib.parse.urlencode(fields).encode(),
                            headers=headers)

    def sign_in(self, username: str, password: str, *,
                referer: str | None = f"https://{SITE_NAME}/login") -> Answer:
        token = CSRF_RE.search(self.get("/login").text)[1]
        return self.post_form("/login", {"csrf_token": token, "username": username,
                                         "password": password}, referer=referer)
