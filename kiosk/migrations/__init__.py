"""Schema migrations as files, one folder per engine, applied in order by one small runner.

``kiosk/migrations/sqlite/`` holds the gate's store: ``0001_initial.sql``,
``0002_waiting_parcels_indexes.sql`` ... Migration N is the file whose name starts with N in
four digits; a store at version V has had migrations 1..V applied, each once, in order. A
released migration is never edited (a store in the field has run it already): a change to
the schema is a new file with the next number.

A migration that needs code (a rewrite SQL cannot say) has a Python step: ``NNNN_name.py``,
beside the ``.sql`` of the same name or instead of it, defining::

    def migrate(conn) -> None:
        '''Rewrite ... (runs after NNNN_name.sql, in the same transaction).'''

``conn`` is the engine's own connection (``sqlite3.Connection`` for ``sqlite/``), inside the
migration's transaction: the step must neither commit nor roll back.

An engine plugs in with a Ledger: where it records the version and how it holds the store for
an upgrade. ``kiosk.store.schema.SqliteLedger`` records ``PRAGMA user_version`` (the number of
migrations applied). The compound's PostgreSQL will add ``kiosk/migrations/postgresql/``
(its own numbering, from 0001) and a ledger of its own: ``version`` counts the rows of a
``schema_migrations`` table (0 while it does not exist); ``transaction`` is one transaction
that takes ``pg_advisory_xact_lock`` (so two processes starting at once migrate once) and
creates that table if missing; ``apply`` runs the file as one script (psycopg 3 sends a query
without parameters whole; PostgreSQL's DDL is transactional), then the step, then inserts the
migration's number and name. ``upgrade`` stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol

Step = Callable[[Any], None]
FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.(sql|py)")


@dataclass(frozen=True)
class Migration:
    """One numbered change of the schema: its SQL, then its Python step (either may be absent)."""

    number: int
    name: str  # the file's name without its suffix: '0014_returned_and_withdrawn_parcels'
    sql: str = ""
    step: Step | None = None


class Ledger(Protocol):
    """An engine's side of the runner: the version its store records, and how it migrates."""

    def version(self) -> int:
        """The number of migrations applied, read without taking a write lock."""
        ...

    def transaction(self) -> AbstractContextManager[int]:
        """Hold the store for migrating, in one transaction; yield the version read inside.

        Commits when the block ends, rolls back if it raises.
        """
        ...

    def apply(self, migration: Migration) -> None:
        """Run the migration's SQL and step, and record its number (inside the transaction)."""
        ...


class SchemaTooNew(RuntimeError):
    """The store was migrated by a newer program than this one."""


def upgrade(ledger: Ledger, migrations: Sequence[Migration], *,
            target: int | None = None) -> int:
    """Apply the migrations the store has not had, up to ``target`` (all); return its version.

    When the store is up to date already (the common case) nothing is locked. A store newer
    than ``migrations`` is refused (SchemaTooNew); one newer than ``target`` is left as it is.
    """
    latest = len(migrations)
    wanted = latest if target is None else target
    if ledger.version() == wanted:
        return wanted
    with ledger.transaction() as version:
        if version > latest:
            raise SchemaTooNew(f"database schema {version} is newer than this program "
                               f"({latest})")
        for migration in migrations[version:wanted]:
            ledger.apply(migration)
    return max(version, wanted)


@cache
def load(engine: str) -> tuple[Migration, ...]:
    """The migrations of ``kiosk/migrations/<engine>/``, in order (read once per process)."""
    return read_folder(resources.files(__package__) / engine)


def read_folder(folder: Traversable) -> tuple[Migration, ...]:
    """Read a folder of migrations; refuse a gap in the numbers or two names for one number."""
    sql: dict[int, str] = {}
    steps: dict[int, Step] = {}
    names: dict[int, str] = {}
    for entry in folder.iterdir():
        if entry.name.startswith(("_", ".")):
            continue  # __pycache__
        found = FILE_NAME.fullmatch(entry.name)
        if found is None:  # never skipped quietly: a store would miss that migration
            raise ValueError(f"{folder}: {entry.name} is not named as a migration "
                             "(0020_what_it_does.sql, or .py)")
        number, kind = int(found[1]), found[3]
        name = entry.name.rsplit(".", 1)[0]
        if names.setdefault(number, name) != name:
            raise ValueError(f"{folder}: migration {number} has two names: "
                             f"{names[number]} and {name}")
        if kind == "sql":
            sql[number] = entry.read_text(encoding="utf-8")
        else:
            steps[number] = _step(entry)
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ValueError(f"{folder}: migrations must be numbered 1, 2, 3 ... without a gap; "
                         f"found {sorted(names)}")
    return tuple(Migration(n, names[n], sql.get(n, ""), steps.get(n)) for n in sorted(names))


def _step(file: Traversable) -> Step:
    """The ``migrate`` function of a Python step."""
    # Compiled from its text rather than imported: a name such as 0020_x.py is not a module
    # name, and the folder is data read through importlib.resources like the .sql beside it.
    namespace: dict[str, Any] = {"__name__": f"{__package__}.{file.name[:-3]}"}
    exec(compile(file.read_text(encoding="utf-8"), str(file), "exec"), namespace)
    step = namespace.get("migrate")
    if not callable(step):
        raise ValueError(f"{file} defines no migrate(conn) function")
    return step
