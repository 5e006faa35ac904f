"""How much the database grows per 1,000 parcels: checked in, notified, collected.

Every parcel goes through the real use cases on a real SQLite file: a check-in (parcel, event,
pickup code, outbox row, light), and a pickup of the household's parcels now and then, as at a
gate. The notices are marked sent, as the worker would. The size is read after a checkpoint,
so the figure is what the file itself grows by.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.community import sample_community
from kiosk.community import open_store
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.queries import household_ids
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork

PARCELS = 2000


class StepClock:
    """Seven seconds pass at every reading: a busy afternoon at the gate."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 29, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(seconds=7)
        return self.current

    def monotonic(self) -> float:
        return self.current.timestamp()


def _size(conn, path: Path) -> int:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def run(parcels: int = PARCELS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="shelf-growth-") as tmp:
        config = sample_community(Path(tmp) / "community", real_hash=False)
        conn = open_store(config)
        uow, rules, clock = SqliteUnitOfWork(conn), Rules.from_config(config), StepClock()
        households = household_ids(conn)
        before = _size(conn, config.database)
        for n in range(parcels):
            household = HouseholdId.parse(households[n % len(households)])
            label = make_label(config.label_secret, household, f"G{n:06d}")
            act_on_payload(label.encode(), uow, rules, clock)
            if n % 4 == 3:  # residents collect as parcels arrive
                codes = conn.execute(
                    "SELECT code, household_id FROM pickup_codes WHERE used_at IS NULL")
                for code, household_id in codes.fetchall():
                    act_on_code(code, uow, rules, clock, room=household_id)
        conn.execute("UPDATE outbox SET status = 'sent'")
        after = _size(conn, config.database)
        conn.close()
    per_1000 = (after - before) / parcels * 1000
    return {
        "title": f"database growth: {parcels} parcels checked in, notified and collected",
        "rows": [{"parcels": parcels, "KB before": before // 1024, "KB after": after // 1024,
                  "KB per 1,000 parcels": round(per_1000 / 1024)}],
        "kb_per_1000_parcels": round(per_1000 / 1024),
    }
