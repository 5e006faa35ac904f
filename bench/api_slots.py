"""``GET /api/slots`` at 1k and at 1M collected parcels of history.

The real Flask app from ``web.create_app`` through its test client, authorised by a bearer
token from the configuration's ``[[web.tokens]]``, as another tool would call it. Each
request opens its own store connection, as the site does.
"""

from __future__ import annotations

from typing import Any

from bench.checkin import ROUNDS
from bench.history import SIZES, WAITING, Store, fresh_store, history_walks
from bench.stats import compare, summary_ms, timed
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.queries import slots_view
from web import create_app

GOAL_RATIO = 1.5  # the issue: /api/slots p95 at 1M history within 1.5x of 1k


class SlotsApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = create_app(store.config, clock=SystemClock()).test_client()
        self.headers = {"Authorization": f"Bearer {store.config.web.api_tokens[0]}"}
        self.seconds: list[float] = []

    def once(self) -> float:
        seconds, response = timed(lambda: self.client.get("/api/slots", headers=self.headers))
        if response.status_code != 200:
            raise RuntimeError(f"GET /api/slots answered {response.status_code}")
        shown = sum(slot["count"] for slot in response.get_json()["slots"])
        if shown != WAITING:
            raise RuntimeError(f"GET /api/slots showed {shown} parcels, not {WAITING}")
        return seconds

    def measure(self, count: int) -> None:
        self.seconds += [self.once() for _ in range(count)]

    def walks(self) -> list[dict[str, Any]]:
        conn = open_store(self.store.config)
        try:
            return history_walks(conn, lambda: slots_view(conn, SystemClock().now()))
        finally:
            conn.close()


def run(samples: int = 300, warmup: int = 30) -> dict[str, Any]:
    """Measure ``samples`` requests per store, after ``warmup`` unmeasured ones."""
    runs = {name: SlotsApi(fresh_store(name, "api-slots")) for name in SIZES}
    for api in runs.values():
        api.measure(warmup)
        api.seconds.clear()
    for _ in range(ROUNDS):
        for api in runs.values():
            api.measure(samples // ROUNDS)
    figures = {name: summary_ms(api.seconds) for name, api in runs.items()}
    ratios = [compare("GET /api/slots p95", figures, "p95_ms", GOAL_RATIO),
              compare("GET /api/slots p50", figures, "p50_ms", None)]
    return {
        "title": f"GET /api/slots (Flask test client, bearer token, {WAITING} parcels waiting)",
        "rows": [{"what": "GET /api/slots", "history": SIZES[name], **figures[name]}
                 for name in SIZES],
        "ratios": ratios,
        "ok": all(r["ok"] for r in ratios),
        "history_walks": runs["1M"].walks(),
    }
