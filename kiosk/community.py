"""A community on disk: `shelf init` writes a sample one; `open_store` opens its database.

The configuration holds secrets and the database residents' names and phones: both are made
readable by their owner alone (0600; 0640 for a service group), and a start warns when they
can be read by every user of the machine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template

from kiosk.backup import check_store
from kiosk.config import Config, backup_dir, load_config
from kiosk.errors import NotAStore, StorageFull, StoreUnavailable
from kiosk.passwords import hash_password
from kiosk.staff import add_staff
from kiosk.store import SqliteUnitOfWork, connect

log = logging.getLogger(__name__)

SAMPLE = resources.files("kiosk") / "sample"
ADMIN = "admin"  # the first staff account, made by `shelf init`


def write_sample(directory: Path, admin_password: str | None = None,
                 smtp_port: int = 8025, database: Path | None = None) -> tuple[Path, str]:
    """Write config.toml and households.csv into ``directory``; return (config, password).

    The password is the first admin's, for ``init_community`` to store (hashed). The database
    is ``database`` (absolute; /var/lib/shelf/shelf.db for a service), else shelf.db beside.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "config.toml"
    for existing in (config_file, directory / "households.csv"):
        if existing.exists():
            raise FileExistsError(f"{existing} exists already; not overwriting it")
    password = admin_password or secrets.token_urlsafe(9)
    text = Template((SAMPLE / "config.toml.in").read_text(encoding="utf-8")).substitute(
        label_secret=secrets.token_urlsafe(24),
        web_secret=secrets.token_urlsafe(24),
        api_token=secrets.token_urlsafe(24),
    )
    text = text.replace("port = 8025", f"port = {smtp_port}")
    if database is not None:
        text = text.replace('path = "shelf.db"              # one SQLite file; relative to this '
                            "file's folder",
                            f"path = {json.dumps(str(database.absolute()))}  # one SQLite file")
    config_file.write_text(text, encoding="utf-8")
    with resources.as_file(SAMPLE / "households.csv") as src:
        shutil.copyfile(src, directory / "households.csv")
    return config_file, password


def open_store(config: Config) -> sqlite3.Connection:
    """Open the configured (existing) database and mirror the configured slots into it.

    Every command opens its store here, so every command gives the same verdict on a damaged
    file (``kiosk.backup.check_store``: PRAGMA quick_check, with the backup to restore), a
    one-off ``shelf scan`` as much as the kiosk, the notice worker and the site.
    """
    started = time.monotonic()
    try:
        check_store(config.database, backup_dir(config))
        log.debug("database checked (quick_check) in %.2f s", time.monotonic() - started)
        conn = connect(config.database)
    except NotAStore as exc:
        raise NotAStore(f"{exc} (it is [database] path in {config.path})") from None
    warn_if_exposed(config.database, *_sidecars(config.database))
    try:
        with SqliteUnitOfWork(conn) as uow:
            uow.slots.sync([*config.layout.slots, config.layout.overflow])
    except StorageFull as exc:
        # Start anyway: the lights and the pages only read, and space may be freed meanwhile.
        log.error("%s; the configured slots were not saved; free space on that disk", exc)
    except StoreUnavailable as exc:
        conn.close()
        raise StoreUnavailable(f"cannot write {config.database}: {exc.__cause__ or exc}") from exc
    return conn


def open_store_when_space(config: Config, stop: threading.Event, *, retry_s: float = 5.0,
                          say_every_s: float = 60.0) -> sqlite3.Connection | None:
    """Open the store; while its disk is full, wait for space, saying so once a minute.

    For the kiosk, which must not die of a full disk: it cannot even open SQLite's shared
    memory file then. None when ``stop`` is set first.
    """
    next_say = 0.0
    while True:
        try:
            return open_store(config)
        except StorageFull as exc:
            if time.monotonic() >= next_say:
                next_say = time.monotonic() + say_every_s
                log.error("%s; waiting for space before the kiosk starts", exc)
        if stop.wait(retry_s):
            return None


def init_community(directory: Path, admin_password: str | None = None,
                   smtp_port: int = 8025, *, group_readable: bool = False,
                   database: Path | None = None) -> tuple[Config, str]:
    """Write a sample community and create its database: the only way a database is made."""
    with private_files(group_readable):
        config_file, password = write_sample(directory, admin_password, smtp_port, database)
        config = load_config(config_file)
        config.database.parent.mkdir(parents=True, exist_ok=True)
        try:
            connect(config.database, create=True, mode=0o640 if group_readable else 0o600).close()
        except FileExistsError:  # someone's database: leave the folder as it was
            for written in (config_file, directory / "households.csv"):
                written.unlink()
            raise
    conn = open_store(config)
    try:
        add_staff(SqliteUnitOfWork(conn), datetime.now(UTC), username=ADMIN, name="Administrator",
                  role="admin", team=None, password_hash=hash_password(password),
                  actor="init@shell", teams=[t.id for t in config.teams])
    finally:
        conn.close()
    return config, password


@contextmanager
def private_files(group_readable: bool = False) -> Iterator[None]:
    """Create files readable by their owner alone (and the group, if asked) within."""
    previous = os.umask(0o027 if group_readable else 0o077)
    try:
        yield
    finally:
        os.umask(previous)


def warn_if_exposed(path: Path, *companions: Path) -> None:
    """Warn in one line when every user may read ``path`` (or its -wal, -shm companions)."""
    exposed = {}
    for item in (path, *companions):
        try:
            mode = item.stat().st_mode
        except OSError:
            continue  # absent (an idle database's -wal) or unreadable: nothing to expose
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            exposed[item] = mode & 0o777
    if exposed:
        log.warning("%s can be read by every user of this machine (mode %04o); run: chmod 600 %s",
                    path, next(iter(exposed.values())), " ".join(map(str, exposed)))


def _sidecars(database: Path) -> tuple[Path, ...]:
    return tuple(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm"))
