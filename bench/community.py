"""A sample community on disk for benchmarks and proofs, made the way `shelf init` makes one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher

from kiosk.community import init_community, open_store
from kiosk.config import Config
from kiosk.households import import_households
from kiosk.passwords import hash_password
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

ADMIN_PASSWORD = "correct horse battery"
# A real argon2id, only cheap: for runs that sign in thousands of times.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def sample_community(directory: Path, *, real_hash: bool = True) -> Config:
    """Write the sample community into ``directory`` and import its households.

    ``real_hash=False`` swaps the admin's password hash for a cheap one, as tests/conftest.py
    does; the login flood keeps the real cost, since that cost is what it measures.
    """
    config, _ = init_community(directory, ADMIN_PASSWORD)
    conn = open_store(config)
    try:
        if not real_hash:
            cheap = hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER)
            conn.execute("UPDATE staff SET password_hash = ? WHERE username = 'admin'", (cheap,))
        report = import_households(SqliteUnitOfWork(conn), config.community.buildings,
                                   directory / "households.csv", datetime.now(UTC), apply=True,
                                   rules=Rules.from_config(config))
        if report.refused:
            raise RuntimeError("the sample households were refused: "
                               + "; ".join(f"line {r.line}: {r.message}" for r in report.refused))
    finally:
        conn.close()
    return config
