"""A real HTTP server on localhost that records what it receives: for the demo and the tests.

It stands in for an SMS gateway, a WeCom or DingTalk bot, an ntfy server or any JSON webhook:
the channels talk HTTP to it exactly as they would to the vendor. It can be told how to answer:

- ``ok``: HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` (what a bot says on success);
- ``fail``: HTTP 500;
- ``errcode``: HTTP 200 with ``{"errcode": 310000, ...}`` (a bot refusing, politely);
- ``hang``: record the request, then hold the answer until ``release()`` (or ``stop()``);
- down: ``stop()`` closes the port (connection refused), ``start()`` opens it again.

``answer_body`` replaces the JSON of ``ok`` (a gateway's own success shape); ``delay`` makes
every answer wait that many seconds (a slow gateway). Given a ``folder``, each request's body
is also written there (``0001.json`` ...), as the demo's mail catcher keeps its mail.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.app.sim.mailcatcher import free_port

MODES = ("ok", "fail", "errcode", "hang")


@dataclass
class Request:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = field(default=None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Receiver:
    """``with Receiver() as http: ... http.url ... http.requests``."""

    def __init__(self, folder: Path | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.folder, self.host, self.port = folder, host, port or free_port(host)
        self.mode = "ok"
        self.answer_body: Any = {"errcode": 0, "errmsg": "ok"}
        self.delay = 0.0
        self.requests: list[Request] = []
        self.arrived = threading.Condition()
        self._held = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def answer(self, mode: str) -> None:
        """How to answer from now on: one of MODES."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
        if mode == "hang":
            self._held.clear()
        self.mode = mode
        if mode != "hang":
            self._held.set()

    def release(self) -> None:
        """Let held answers go (as ``ok``), and answer ``ok`` from now on."""
        self.mode = "ok"
        self._held.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until at least ``count`` requests have arrived (or the timeout passes)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: the next connection is refused, as when a gateway is down."""
        self._held.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, handler: BaseHTTPRequestHandler) -> tuple[int, Any]:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        split = urlsplit(handler.path)
        request = Request(handler.command, split.path, parse_qs(split.query),
                          dict(handler.headers.items()), body, parsed)
        mode = self.mode
        with self.arrived:
            self.requests.append(request)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / f"{len(self.requests):04d}.json").write_bytes(body)
            self.arrived.notify_all()
        if mode == "hang":
            self._held.wait()
            mode = "ok"
        if self.delay:
            time.sleep(self.delay)
        if mode == "fail":
            return 500, {"error": "the receiver was told to fail"}
        if mode == "errcode":
            return 200, {"errcode": 310000, "errmsg": "keywords not in content"}
        return 200, self.answer_body


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            status, answer = receiver._record(self)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the sender went away (killed, timed out) while we held the answer

        do_PUT = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
            pass

    return Handler
