"""What a request body may cost the Pi, on the real server (`shelf web`, waitress).

waitress reads a whole body before the site sees the request: anonymous bodies must be
refused at the site's largest upload, and held in memory, never in a temporary file on the
SD card that holds the database. The proxies in the README refuse the same size.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path

import pytest

from bench.servers import proxy_blocks, shelf_web
from web.auth import upload_limit
from web.serving import LARGEST_UPLOAD_BYTES

SETTLE_S = 60  # how long the kernel may take to hand a sent body to waitress, at most
SIZES = {"k": 1024, "m": 1024**2, "kib": 1024, "mib": 1024**2, "kb": 1000, "mb": 1000**2}


def _post_head(length: int) -> bytes:
    return (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_body_over_the_largest_upload_is_refused_before_it_is_sent(community, tmp_path):
    """Told a body is one byte over the largest upload, waitress answers 413 at once, without
    waiting for it (it used to wait for up to 1 GB, and spool it to /tmp)."""
    with (shelf_web(community.path, tmp_path / "web.log") as web,
          socket.create_connection(("127.0.0.1", web.port), timeout=SETTLE_S) as sock):
        sock.sendall(_post_head(LARGEST_UPLOAD_BYTES + 1))
        status = sock.recv(64).split(b"\r\n")[0]
    assert status.startswith(b"HTTP/1.1 413"), status


def test_a_half_sent_body_is_held_in_memory_not_on_disk(community, tmp_path):
    """A body of the largest size, half sent and left hanging (60 of them filled a 96 MB card):
    every byte waitress has read of it is in memory; no temporary file holds any of it."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    with (shelf_web(community.path, tmp_path / "web.log", env={"TMPDIR": str(spool)}) as web,
          socket.create_connection(("127.0.0.1", web.port), timeout=SETTLE_S) as sock):
        sock.sendall(_post_head(LARGEST_UPLOAD_BYTES))
        sock.sendall(b"x" * (LARGEST_UPLOAD_BYTES // 2))
        _wait_until_read(web.port, sock.getsockname()[1])
        spooled = _files_under(web.process.pid, spool)
    assert spooled == [], f"waitress spooled the body to {spooled}"


def _wait_until_read(server_port: int, client_port: int) -> None:
    """Return once waitress has read everything sent on this connection (the kernel holds
    nothing unread in its receive queue, nor unsent in ours), as /proc/net/tcp says."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        queues = _queues(server_port, client_port)
        if queues == (0, 0):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"waitress left {queues} bytes unread for {SETTLE_S} s")
        time.sleep(0.05)


def _queues(server_port: int, client_port: int) -> tuple[int, int]:
    """(bytes our socket has not sent yet, bytes waitress's socket has not read yet)."""
    unsent = unread = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        tx_queue, rx_queue = (int(q, 16) for q in fields[4].split(":"))
        if (local, remote) == (client_port, server_port):
            unsent = tx_queue
        elif (local, remote) == (server_port, client_port):
            unread = rx_queue
    assert unsent is not None and unread is not None, "the connection is not in /proc/net/tcp"
    return unsent, unread


def _files_under(pid: int, directory: Path) -> list[str]:
    """What the process holds open under ``directory`` (deleted temporary files included)."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(directory)):
                held.append(target)
    return held


def _bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", text).groups()
    return int(number) * SIZES.get(unit.lower(), 1)


def test_the_readmes_proxies_refuse_what_the_site_refuses():
    blocks = proxy_blocks()
    nginx = re.search(r"client_max_body_size\s+(\w+);", blocks["nginx"])
    caddy = re.search(r"max_size\s+(\w+)", blocks["caddy"])
    assert nginx and caddy, "a proxy block of the README sets no body limit"
    assert _bytes(nginx[1]) == _bytes(caddy[1]) == LARGEST_UPLOAD_BYTES
    assert "proxy_request_buffering off;" in blocks["nginx"]  # nginx spools bodies otherwise


def test_no_route_may_take_more_than_the_server_reads():
    with pytest.raises(ValueError, match="LARGEST_UPLOAD_BYTES"):
        upload_limit(LARGEST_UPLOAD_BYTES + 1)
    assert upload_limit(LARGEST_UPLOAD_BYTES)  # the largest itself: a photo's route
