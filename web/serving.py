"""How the site is served: the body sizes it takes, and waitress's limits that follow from them.

The largest body any route takes is named here once (``LARGEST_UPLOAD_BYTES``): Flask refuses
more for each route (``MAX_CONTENT_LENGTH`` and ``web.auth.upload_limit``), waitress refuses
more before reading it, and the proxies in the README are set to the same. waitress reads a
whole body before the app sees the request, so what an anonymous client can make it hold is
bounded here too: every body stays in memory (never in a temporary file on the SD card that
holds the database), and the connections are few enough that all of them, each with the
largest body, fit in ``BODIES_IN_MEMORY_BYTES``.
"""

from __future__ import annotations

from typing import Any

from kiosk.config import WebSettings

FORM_BYTES = 64 * 1024  # every form but an upload: no form needs more (413 above it)
# A list (the household list, the observation list): a whole compound's of 10,000 households is
# ~600 KB of CSV, its XLSX tens of KB (what a list may hold once read: kiosk.sheets).
LIST_UPLOAD_BYTES = 1024 * 1024
# A phone's photo of a door sticker (web/tasks.py): its JPEG is 3-5 MB when the page cannot
# shrink it first.
PHOTO_UPLOAD_BYTES = 8 * 1024 * 1024
# The largest body the site takes.
LARGEST_UPLOAD_BYTES = max(LIST_UPLOAD_BYTES, PHOTO_UPLOAD_BYTES)
# What half-sent bodies may hold of the Pi's memory at most, all connections together.
BODIES_IN_MEMORY_BYTES = 256 * 1024 * 1024
CONNECTIONS = BODIES_IN_MEMORY_BYTES // LARGEST_UPLOAD_BYTES  # 32: beyond, new ones wait
# A connection that sends nothing for this long is closed: a body trickled a byte a minute
# does not hold its place (waitress's default is 120 s).
IDLE_CONNECTION_S = 60
THREADS = 4


def waitress_options(web: WebSettings) -> dict[str, Any]:
    """``waitress.create_server``'s keyword arguments for the site of ``web``.

    Forwarding headers (X-Forwarded-*, Forwarded) are believed from ``[web] trusted_proxy``
    alone; from anyone else they are left in the request unbelieved, not removed, so the
    gate screen still sees that a request came through a proxy (``web.gate``) even when the
    proxy was not named.
    """
    options: dict[str, Any] = {
        "threads": THREADS,
        "ident": "shelf",
        # waitress refuses a body of this size or more, and spools one of this size or
        # more to a temporary file: one byte past the largest it must take whole in memory.
        "max_request_body_size": LARGEST_UPLOAD_BYTES + 1,
        "inbuf_overflow": LARGEST_UPLOAD_BYTES + 1,
        "connection_limit": CONNECTIONS,
        "channel_timeout": IDLE_CONNECTION_S,
        "clear_untrusted_proxy_headers": False,
    }
    if web.proxy.address is not None:
        options.update(trusted_proxy=web.proxy.address, trusted_proxy_count=web.proxy.count,
                       trusted_proxy_headers=set(web.proxy.headers))
    return options
