"""sd_notify on the real protocol: one datagram to ``$NOTIFY_SOCKET``, nothing else.

systemd hands a `Type=notify` service the socket's path in ``$NOTIFY_SOCKET`` (a file, or an
abstract name written with a leading ``@``) and, with ``WatchdogSec=``, the interval in
``$WATCHDOG_USEC``. Outside systemd neither is set and every call here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send lines such as ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``; False if none listens."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address or not lines:
        return False
    if address.startswith("@"):  # an abstract socket: a NUL byte instead of the @
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
    except OSError as exc:  # systemd gone (a stop in progress): the kiosk goes on regardless
        log.debug("sd_notify to %r failed: %s", address, exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of ``WatchdogSec=``); None without a watchdog."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):  # meant for another process
        return None
    return usec / 2_000_000
