"""Opening the store file (pragmas, refusals that say what to do), checking, copying, closing it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from kiosk.errors import NotAStore, StorageFull, StoreUnavailable
from kiosk.store.db import translated_errors
from kiosk.store.schema import migrate

BUSY_TIMEOUT_MS = 10_000
# In every shelf database's header (bytes 68-71, "SHLF"): a file without it is not ours.
APPLICATION_ID = 0x53484C46


def connect(path: str | Path, *, create: bool = False, mode: int = 0o600) -> sqlite3.Connection:
    """Open the store with the pragmas every process uses, and bring its schema up to date.

    Only `shelf init` creates a database (``create=True``, file ``mode``); every other caller
    gets NotAStore for a missing, empty, damaged or foreign file, never a fresh empty store.
    """
    path = Path(path)
    if create:
        _create_file(path, mode)
    else:
        _check_file(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not create:
            _check_identity(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise _open_error(path, exc) from None
    except RuntimeError as exc:
        conn.close()
        raise NotAStore(f"{path}: {exc}; run the newer program, or restore a backup") from None
    return conn


def _create_file(path: Path, mode: int) -> None:
    """Make the empty file SQLite will fill, with ``mode`` from the start; never overwrite."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    except FileExistsError:
        raise FileExistsError(f"{path} exists already; not overwriting it") from None


def _check_file(path: Path) -> None:
    """Refuse what cannot be this community's database before SQLite would make one."""
    if not path.exists():
        raise NotAStore(f"{path} does not exist; run `shelf init` to create a community")
    if not path.is_file():
        raise NotAStore(f"{path} is not a file; point [database] path at the shelf database")
    if path.stat().st_size == 0:
        raise NotAStore(f"{path} is empty, not a shelf database; restore it from a backup")
    # SQLite writes the file and makes its -wal and -shm beside it.
    for target, needs in ((path, os.R_OK | os.W_OK), (path.parent, os.W_OK | os.X_OK)):
        if not os.access(target, needs):
            raise StoreUnavailable(f"cannot write {target}: {_permissions(target)}; let the "
                                   "shelf's user write the database and its folder")


def _permissions(target: Path) -> str:
    info = target.stat()
    if os.statvfs(target).f_flag & os.ST_RDONLY:
        return "it is on a read-only file system"
    return f"permission denied (mode {info.st_mode & 0o777:04o}, owner uid {info.st_uid})"


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Accept a file marked as ours, or one made before the mark existed (migration 5 marks it)."""
    if conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
        return
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not (version and {"households", "parcels", "slots"} <= tables):
        raise NotAStore(f"{path} is an SQLite file but not a shelf database; "
                        "check [database] path, or restore the database from a backup")


def _disk_full(path: Path) -> bool:
    """True when nothing more fits on the disk (SQLite then says "disk I/O error")."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    """Say what an SQLite error while opening means for the person starting the shelf."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return NotAStore(f"{path} is not a shelf database (empty or damaged: {exc}); "
                         "restore it from a backup")
    if name.startswith("SQLITE_FULL") or _disk_full(path):
        return StorageFull(f"the disk under {path} is full; free some space ({exc})")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return StoreUnavailable(f"cannot write {path}: {exc}; let the shelf's user write the "
                                "database and its folder")
    return StoreUnavailable(f"cannot open {path}: {exc}")


def close_store(conn: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the database file and close; False if it could not copy.

    A clean stop then leaves the database in one file. Another process still reading (the
    staff site) keeps part of the log; SQLite copies what it can, and the rest later.
    """
    try:
        with translated_errors():
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return not busy
    except StoreUnavailable:
        return False
    finally:
        conn.close()


def integrity_problems(path: str | Path, *, quick: bool = True,
                       shelf_only: bool = True) -> list[str]:
    """What ``PRAGMA quick_check`` (or the slower ``integrity_check``) finds wrong in the
    file at ``path``: [] for a sound database. Opened read-only; never creates a file.

    A missing or empty file, one SQLite finds damaged or not a database at all, and (with
    ``shelf_only``) an SQLite file not marked as the shelf's, is one problem. What keeps the
    check from running at all (permissions, a full disk, a lock) is StoreUnavailable, not
    damage.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path} does not exist"]
    if path.stat().st_size == 0:
        return [f"{path} is empty"]
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            marked = conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            if shelf_only and not marked:
                return [f"{path} is not a shelf database"]
            rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
            problems = [" ".join(str(row[0]).split()) for row in rows.fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            return [f"{path}: {exc}"]  # a header or a root page SQLite cannot even walk
        raise _open_error(path, exc) from None
    return [] if problems == ["ok"] else problems


def copy_database(conn: sqlite3.Connection, target: Path) -> None:
    """Copy the open store into the new file ``target`` with SQLite's online backup.

    Other processes go on reading and writing meanwhile (WAL). The copy is one file on its
    own (rollback journal, no -wal beside it), so it can be carried away and opened anywhere.
    """
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        with translated_errors():
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()
