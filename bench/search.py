"""Finding and following a parcel at 1k and at 1M collected parcels of history.

What the staff site reads for one search box and one record (``kiosk.queries``): a search by
building-room (the household's parcels and its rooms easily confused), by a pickup code used
long ago, by a label reference, by the last four phone digits; a collected parcel's whole
timeline; the exceptions list; the overdue list. Each on a real SQLite file, through its own
connection, as a page request does. A search must not walk the history: every plan is checked
(``history_walks``). Its cost follows the rows it shows, which are bounded (a household's 20
newest, 5 of each room easily confused with it), not the history: at 1M a household has some
200 parcels behind it and a room search lists 20 of each, at 1k it has almost none; ``rows``
says how many each read returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.checkin import ROUNDS
from bench.history import SIZES, Store, fresh_store, history_walks
from bench.stats import compare, summary_ms, timed
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.domain import phone_tail
from kiosk.queries import attention, keypad_runs, overdue_parcels, parcel_story, search_parcels

GOAL_RATIO = 1.5  # as for the hot paths: p95 at 1M within 1.5x of 1k
SEED = 2304


class Reads:
    """The reads of one store, each a callable over one connection, with their samples."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = open_store(store.config)
        rng = random.Random(SEED)
        household = rng.choice(store.waiting_households)
        old = self.conn.execute("SELECT id, ref, pickup_code_id FROM parcels"
                                " WHERE status = 'collected' ORDER BY id LIMIT 1 OFFSET ?",
                                (store.history // 2,)).fetchone()
        code = self.conn.execute("SELECT code FROM pickup_codes WHERE id = ?",
                                 (old["pickup_code_id"],)).fetchone()["code"]
        phone = self.conn.execute("SELECT phone FROM households WHERE id = ?",
                                  (household,)).fetchone()["phone"]
        now = SystemClock().now()
        overflow = store.config.layout.overflow.code
        self.reads: dict[str, Callable[[], object]] = {
            "search by room": lambda: search_parcels(self.conn, household),
            "search by an old pickup code": lambda: search_parcels(self.conn, code),
            "search by reference": lambda: search_parcels(self.conn, old["ref"]),
            "search by phone tail": lambda: search_parcels(self.conn, phone_tail(phone) or ""),
            "a collected parcel's timeline": lambda: parcel_story(self.conn, old["id"]),
            "the exceptions list": lambda: attention(self.conn, now - timedelta(days=7),
                                                     overflow),
            "the keypad runs": lambda: keypad_runs(self.conn, now - timedelta(days=7),
                                                   timedelta(minutes=15), 5),
            "the overdue list": lambda: overdue_parcels(self.conn, now - timedelta(days=1)),
        }
        self.seconds: dict[str, list[float]] = {name: [] for name in self.reads}

    def measure(self, count: int) -> None:
        for name, read in self.reads.items():
            self.seconds[name] += [timed(read)[0] for _ in range(count)]

    def rows(self, name: str) -> int:
        """How many parcels (or entries) the read returns: what its cost follows."""
        found = self.reads[name]()
        if isinstance(found, list):
            return len(found)
        if "results" in found:
            return len(found["results"])
        if "entries" in found:
            return len(found["entries"])
        return sum(len(v) for v in found.values() if isinstance(v, list))

    def walks(self) -> list[dict[str, Any]]:
        return history_walks(self.conn, lambda: [read() for read in self.reads.values()])

    def close(self) -> None:
        self.conn.close()


def run(samples: int = 200, warmup: int = 20) -> dict[str, Any]:
    """Measure ``samples`` of each read per store, after ``warmup`` unmeasured ones."""
    runs = {name: Reads(fresh_store(name, "search")) for name in SIZES}
    try:
        for reads in runs.values():
            reads.measure(warmup)
            for samples_of in reads.seconds.values():
                samples_of.clear()
        for _ in range(ROUNDS):
            for reads in runs.values():
                reads.measure(samples // ROUNDS)
        rows, ratios = [], []
        for what in runs["1k"].reads:
            figures = {name: summary_ms(reads.seconds[what]) for name, reads in runs.items()}
            rows += [{"what": what, "history": SIZES[name], "rows": runs[name].rows(what),
                      **figures[name]} for name in SIZES]
            ratios.append(compare(f"{what} p95", figures, "p95_ms", GOAL_RATIO))
        return {
            "title": "Search, timeline, exceptions and overdue (kiosk.queries, one connection)",
            "rows": rows,
            "ratios": ratios,
            "ok": all(r["ok"] for r in ratios),
            "history_walks": runs["1M"].walks(),
        }
    finally:
        for reads in runs.values():
            reads.close()
