"""Backups that restore: copies of the live store, checked; a restore that never loses a file.

``make_backup`` copies the store while the kiosk runs (SQLite's online backup), checks the copy
(``PRAGMA integrity_check``), keeps the newest N and copies the new one to a stick or a share
too. ``restore`` puts a checked backup in the database's place, keeping the file it replaces
beside it. ``check_store`` is what every long-running command does first: a damaged database
is refused, never replaced by an empty one. The long-running commands hold a lock file beside
the database for their lifetime (``hold_lock``), so a restore knows they run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.errors import NotAStore, ShelfError, StoreUnavailable
from kiosk.store import SqliteUnitOfWork, copy_database, integrity_problems
from kiosk.store.journal import Journal

PREFIX, SUFFIX = "shelf-", ".db"
LOCKED_BY = ("run", "notices", "sync")  # the commands that keep the database open for good
SIDECARS = ("-wal", "-shm")


Words = tuple[str, dict[str, str]]  # a catalogue key of kiosk/app/words.py and its values


class BackupFailed(ShelfError):
    """A backup could not be made, or its copy did not pass the integrity check."""

    code = "backup_failed"

    def __init__(self, message: str, *, words: Words | None = None) -> None:
        super().__init__(message)
        self.words = words  # so the CLI can say it in the operator's language


class RestoreRefused(ShelfError):
    """A restore was refused: the file is not a sound backup, or the shelf is running."""

    code = "restore_refused"

    def __init__(self, message: str, *, words: Words | None = None) -> None:
        super().__init__(message)
        self.words = words


@dataclass
class BackupReport:
    """What one `shelf backup` did: the new file, its size, what it pruned and copied."""

    path: Path
    bytes: int
    removed: list[Path] = field(default_factory=list)
    copied: Path | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[Words] = field(default_factory=list)  # the warnings, as keys for the CLI

    def warn(self, text: str, key: str, **values: object) -> None:
        self.warnings.append(text)
        self.notes.append((key, {k: str(v) for k, v in values.items()}))

    def as_json(self) -> dict[str, object]:
        return {"path": str(self.path), "bytes": self.bytes,
                "removed": [str(p) for p in self.removed],
                "copied": str(self.copied) if self.copied else None, "warnings": self.warnings}


def backup_name(now: datetime) -> str:
    """``shelf-20261129T061500Z.db``: UTC, so names sort by time in any time zone."""
    return f"{PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}{SUFFIX}"


def backups_in(folder: Path) -> list[Path]:
    """The backups in ``folder``, oldest first: by their time, then by their number within
    one second (``...Z.db``, ``...Z-2.db``, ``...Z-10.db``; by name "-" would sort first)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file()), key=_order)


def _order(path: Path) -> tuple[str, int]:
    stamp, dash, number = path.name.removesuffix(SUFFIX).rpartition("-")
    if dash and stamp.endswith("Z") and number.isdigit():
        return stamp, int(number)
    return path.name.removesuffix(SUFFIX), 1


def newest_backup(folder: Path) -> Path | None:
    found = backups_in(folder)
    return found[-1] if found else None


def make_backup(conn: sqlite3.Connection, dest: Path, now: datetime, *, keep: int,
                copy_to: Path | None = None, actor: str = "shelf backup") -> BackupReport:
    """Copy the store into ``dest``, check the copy, keep the newest ``keep``; record it.

    The copy is written under a temporary name and renamed only once checked, so a backup
    cut short (power, full disk) never counts as one. ``copy_to`` missing (a stick not
    mounted) is a warning: the backup in ``dest`` is made all the same.
    """
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)  # residents' names and phones
    target = _free_name(dest / backup_name(now))
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        copy_database(conn, partial)
        problems = integrity_problems(partial, quick=False)
        if problems:
            raise BackupFailed(f"the copy in {partial} failed its integrity check "
                               f"({problems[0]}); the database itself may be damaged: "
                               "run shelf doctor", words=("backup_copy_damaged", {
                                   "path": str(partial), "problem": problems[0]}))
        _fsync(partial)
        partial.rename(target)
        _fsync(dest)
    finally:
        partial.unlink(missing_ok=True)
    report = BackupReport(target, target.stat().st_size)
    report.removed = _prune(dest, keep)
    if copy_to is not None:
        _copy_out(report, copy_to, keep)
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add("backup_made", actor, now, path=str(target), bytes=report.bytes)
    return report


def _free_name(target: Path) -> Path:
    """``target``, or when backups of the same second exist, ``...-N.db`` numbered after the
    highest of them (never a name that would sort before one kept)."""
    same = [_order(p)[1] for p in backups_in(target.parent)
            if _order(p)[0] == target.name.removesuffix(SUFFIX)]
    if not same and not target.exists():
        return target
    return target.with_name(f"{target.stem}-{max(same, default=1) + 1}{SUFFIX}")


def _prune(folder: Path, keep: int) -> list[Path]:
    old = backups_in(folder)[:-keep]
    for path in old:
        path.unlink()
    return old


def _copy_out(report: BackupReport, copy_to: Path, keep: int) -> None:
    if not copy_to.is_dir():
        report.warn(f"{copy_to} is missing (is the USB stick or the share mounted?); the "
                    f"backup is only in {report.path.parent}", "backup_copy_to_missing",
                    copy_to=copy_to, folder=report.path.parent)
        return
    try:
        copied = copy_to / report.path.name
        shutil.copyfile(report.path, copied)
        _fsync(copied)
        report.copied = copied
        _prune(copy_to, keep)
    except OSError as exc:
        why = exc.strerror or exc
        report.warn(f"could not copy the backup to {copy_to} ({why}); it is only in "
                    f"{report.path.parent}", "backup_copy_to_failed", copy_to=copy_to, why=why,
                    folder=report.path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- the store at start ------------------------------------------------------------------

def check_store(database: Path, backups: Path) -> None:
    """Refuse a truncated or damaged database with one line that says what to do.

    ``PRAGMA quick_check`` reads every page (1.6 s at a million parcels of history, see the
    README), so a damaged store stops the command at start instead of failing mid-check-in.
    A missing, empty or unwritable file, or a full disk, is left to ``kiosk.store.connect``
    to name (and the kiosk to wait for space): the check is for damage only.
    """
    if not database.is_file() or database.stat().st_size == 0:
        return
    try:
        problems = integrity_problems(database, quick=True, shelf_only=False)
    except StoreUnavailable:
        return
    if problems:
        raise NotAStore(f"{database} is not a shelf database (empty or damaged: {problems[0]}); "
                        f"restore it from a backup: {restore_hint(backups)}")


def restore_hint(backups: Path) -> str:
    """What to run to bring the store back: the newest backup by name, where there is one."""
    newest = newest_backup(backups)
    if newest is None:
        return f"none in {backups}; shelf restore FILE --stop"
    return f"shelf restore {newest} --stop"


# ---- who holds the database --------------------------------------------------------------

def lock_path(database: Path, name: str) -> Path:
    return database.with_name(f".{database.name}.{name}.lock")


@contextmanager
def hold_lock(database: Path, name: str, *, shared: bool = False) -> Iterator[None]:
    """Hold ``name``'s lock beside the database while the block runs (released at exit,
    even by kill -9: the kernel drops a dead process's locks).

    ``shared``: several of this command may run at once (notice workers share the outbox
    through leases); `shelf restore` still sees any one of them.
    """
    # Readable by all (it holds nothing): root's `shelf restore` and the shelf's user's
    # `shelf run` must both be able to open it, whoever made it first.
    fd = os.open(lock_path(database, name), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ShelfError(f"another `shelf {name}` is running on {database}; "
                             "stop it first") from None
        yield
    finally:
        os.close(fd)


def running(database: Path) -> list[str]:
    """The commands (of ``LOCKED_BY``) that hold their lock on ``database`` now."""
    held = []
    for name in LOCKED_BY:
        path = lock_path(database, name)
        if not path.exists():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(name)
        finally:
            os.close(fd)
    return held


# ---- restore -----------------------------------------------------------------------------

@dataclass
class RestoreReport:
    """What `shelf restore` did: the file put in place and where the old one went."""

    restored: Path
    database: Path
    kept_aside: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    epoch: str | None = None  # the store's new epoch (None: a store from before epochs)


def _new_epoch(path: Path) -> str | None:
    """Give a restored store a new epoch: what it writes from now on reaches the centre under
    keys of its own, never under those of the days the backup does not hold (issue 21)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        has_journal = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                                   " name = 'sync_state'").fetchone()
        if not has_journal:
            return None  # migrated when it opens: it gets its first epoch then
        return Journal(conn).new_epoch()
    finally:
        conn.close()


def check_backup(backup: Path) -> None:
    """Refuse a backup that is missing, not the shelf's, or damaged."""
    problems = integrity_problems(backup, quick=False)
    if problems:
        raise RestoreRefused(f"{backup} is not a sound shelf backup ({problems[0]}); "
                             "nothing was changed: choose another backup",
                             words=("restore_not_a_backup",
                                    {"path": str(backup), "problem": problems[0]}))


def restore(backup: Path, database: Path, now: datetime) -> RestoreReport:
    """Put ``backup`` in the place of ``database``; keep the file it replaces beside it.

    The backup is checked first and copied under a temporary name, then renamed into place,
    so a restore cut short leaves the database as it was. The replaced file is renamed (with
    its -wal, which may hold its newest commits) to ``<name>.corrupt-<time>`` when damaged or
    ``<name>.replaced-<time>`` when sound; it is never deleted. Its -shm, a mere index of
    that -wal, is removed: a stale one beside the restored file would confuse SQLite.
    """
    check_backup(backup)
    held = running(database)
    if held:
        names = ", ".join(f"shelf {n}" for n in held)
        raise RestoreRefused(f"the shelf is running ({names}) on {database}; stop it first "
                             "(sudo systemctl stop shelf-kiosk shelf-notices shelf-web) or add "
                             "--stop", words=("restore_running",
                                              {"names": names, "database": str(database)}))
    report = RestoreReport(backup, database)
    incoming = database.with_name(f".{database.name}.restoring")
    shutil.copyfile(backup, incoming)
    report.epoch = _new_epoch(incoming)
    _same_owner_and_mode(database, incoming)
    _fsync(incoming)
    if database.exists():
        try:
            damaged = bool(integrity_problems(database, quick=True))
        except StoreUnavailable:  # it cannot even be read: as good as damaged
            damaged = True
        stamp = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        aside = database.with_name(f"{database.name}.{'corrupt' if damaged else 'replaced'}"
                                   f"-{stamp}")
        database.rename(aside)
        report.kept_aside.append(aside)
        wal = database.with_name(database.name + "-wal")
        if wal.exists():
            wal.rename(aside.with_name(aside.name + "-wal"))
            report.kept_aside.append(aside.with_name(aside.name + "-wal"))
    for suffix in SIDECARS:
        stale = database.with_name(database.name + suffix)
        if stale.exists():
            stale.unlink()
            report.removed.append(stale)
    incoming.rename(database)
    _fsync(database.parent)
    return report


def _same_owner_and_mode(old: Path, new: Path) -> None:
    """Give the restored file the owner and mode of the one it replaces (root restores a
    file the shelf's user must write)."""
    try:
        info = old.stat()
    except FileNotFoundError:
        os.chmod(new, 0o600)
        return
    os.chmod(new, info.st_mode & 0o777)
    if os.geteuid() == 0:
        os.chown(new, info.st_uid, info.st_gid)


def backup_age(folder: Path, now: datetime) -> timedelta | None:
    """How old the newest backup in ``folder`` is (by its name), or None without one."""
    newest = newest_backup(folder)
    if newest is None:
        return None
    stamp = newest.name[len(PREFIX):len(PREFIX) + 16]
    try:
        made = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return now - made
