"""A sample community on disk for benchmarks and proofs, made the way `shelf init` makes one."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from kiosk.community import init_community, open_store
from kiosk.config import Config, load_config
from kiosk.households import import_households
from kiosk.passwords import hash_password
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

ADMIN_PASSWORD = "correct horse battery"
CHEAP_HASH_ITERATIONS = 1_000  # a real PBKDF2, only cheap: for runs that log in thousands of times


def sample_community(directory: Path, *, real_hash: bool = True) -> Config:
    """Write the sample community into ``directory`` and import its households.

    ``real_hash=False`` swaps the admin's password hash for a cheap one, as tests/conftest.py
    does; the login flood keeps the real cost, since that cost is what it measures.
    """
    config, _ = init_community(directory, ADMIN_PASSWORD)
    if not real_hash:
        cheap = hash_password(ADMIN_PASSWORD, iterations=CHEAP_HASH_ITERATIONS)
        text = config.path.read_text(encoding="utf-8")
        config.path.write_text(re.sub(r'password_hash = "[^"]+"', f'password_hash = "{cheap}"',
                                      text), encoding="utf-8")
        config = load_config(config.path)
    conn = open_store(config)
    try:
        report = import_households(SqliteUnitOfWork(conn), config.community.buildings,
                                   directory / "households.csv", datetime.now(UTC), apply=True,
                                   rules=Rules.from_config(config))
        if report.refused:
            raise RuntimeError(f"the sample households were refused: {report.summary()}")
    finally:
        conn.close()
    return config
