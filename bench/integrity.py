"""What the integrity checks and a backup cost on a store with years of history.

Every long-running command runs ``PRAGMA quick_check`` at start (kiosk.backup.check_store),
`shelf backup` copies the store and runs ``PRAGMA integrity_check`` on the copy, and the gate
screen checks the file once per web process. Measured on the 1k and 1M stores of
``bench.history``, with a cold-ish page cache for the copy only in the sense of a fresh file.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.history import fresh_store
from kiosk.backup import make_backup
from kiosk.store import connect, integrity_problems


def _timed(action) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(name: str) -> dict[str, Any]:
    store = fresh_store(name, "integrity")
    database = store.config.database
    quick_s, problems = _timed(lambda: integrity_problems(database, quick=True))
    assert problems == [], problems
    full_s, problems = _timed(lambda: integrity_problems(database, quick=False))
    assert problems == [], problems
    conn = connect(database)
    with tempfile.TemporaryDirectory() as folder:
        backup_s, report = _timed(lambda: make_backup(conn, Path(folder), datetime.now(UTC),
                                                      keep=2))
    conn.close()
    return {"store": name, "db_mb": round(database.stat().st_size / 2**20, 1),
            "quick_check_s": round(quick_s, 3), "integrity_check_s": round(full_s, 3),
            "backup_s": round(backup_s, 3), "backup_mb": round(report.bytes / 2**20, 1)}


def run() -> dict[str, Any]:
    rows = [measure(name) for name in ("1k", "1M")]
    return {"title": "integrity checks and a backup (shelf backup = copy + integrity_check)",
            "rows": rows}
