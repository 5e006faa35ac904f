"""The dashboard's rows, computed once and shared by every district request that asks for them.

Twenty staff polling ``/district`` while the district's gates sync used to compute the table
twenty times at once, each waiting for the others on the database's cores (issue 22: p95
681 ms at 200 compounds where one alone takes 19 ms). Here one request at a time computes
the rows (``district_now``, the stamp and the lendings in one snapshot), and every request
takes the newest rows that are as fresh as its own computation would be:

- rows made for the stamp the request read (nothing the dashboard shows changed since), or
- rows whose computation began after the request arrived (their snapshot is newer than
  anything the request could have read itself).

Otherwise it waits for the one computation running (if any) and computes. So however many
staff poll at once, the database runs at most one dashboard query at a time, and no request
is answered from a snapshot older than its own arrival unless nothing changed since. Every
rendering of the rows (an order, a language) is made once too. The rows are the district's,
the same for every district role (the routes check the role before asking); a compound's
staff never reach them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Board:
    """Rows as one computation made them: for ``key`` (the minute and the stamp), begun at
    ``started`` (``time.monotonic``); ``tables`` keeps their renderings."""

    key: Hashable
    started: float
    rows: Any
    tables: dict[Hashable, Any] = field(default_factory=dict)
    rendering: threading.Lock = field(default_factory=threading.Lock)

    def table(self, view: Hashable, render: Callable[[Any], Any]) -> Any:
        """The rows rendered as ``view`` (an order and a language), rendered once."""
        with self.rendering:
            if view not in self.tables:
                self.tables[view] = render(self.rows)
            return self.tables[view]


class SharedBoard:
    """The newest ``Board``, and the one computation of the next."""

    def __init__(self) -> None:
        self._newest: Board | None = None
        self._computing = threading.Lock()  # one computation at a time

    def board(self, key: Hashable, compute: Callable[[], tuple[Hashable, Any]]) -> Board:
        """Rows as fresh as a computation begun now, for a request that read ``key``.
        ``compute()`` returns (the key it read, the rows), both from one snapshot."""
        asked = time.monotonic()
        newest = self._newest
        if newest is not None and newest.key == key:
            return newest
        with self._computing:
            newest = self._newest
            if newest is not None and (newest.key == key or newest.started >= asked):
                return newest  # made while this request waited: as fresh as its own
            started = time.monotonic()
            read, rows = compute()
            self._newest = Board(read, started, rows)
            return self._newest
