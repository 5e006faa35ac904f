"""The UnitOfWork port on one SQLite connection: its repositories and its one transaction."""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from typing import Any

from kiosk.errors import StoreUnavailable
from kiosk.store.audits import Audits
from kiosk.store.db import Db, translated_errors
from kiosk.store.events import Events, Stills
from kiosk.store.households import Households, ObservationRegister
from kiosk.store.outbox import Outbox
from kiosk.store.parcels import Expected, Parcels, PickupCodes, Reminders
from kiosk.store.slots import Signals, Slots
from kiosk.store.staff import Attempts, Lockouts, Sessions, StaffAccounts
from kiosk.store.tasks import DoorTasks


class SqliteUnitOfWork:
    """The UnitOfWork port on one SQLite connection: ``with uow: ...`` is one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        db = Db(conn)
        self.households = Households(db)
        self.parcels = Parcels(db)
        self.codes = PickupCodes(db)
        self.stills = Stills(db)
        self.events = Events(db, self.stills)
        self.outbox = Outbox(db)
        self.signals = Signals(db)
        self.attempts = Attempts(db)
        self.slots = Slots(db)
        self.sessions = Sessions(db)
        self.lockouts = Lockouts(db)
        self.expected = Expected(db)
        self.observation = ObservationRegister(db)
        self.tasks = DoorTasks(db)
        self.staff = StaffAccounts(db)
        self.reminders = Reminders(db)
        self.audits = Audits(db)
        self._depth = 0

    def __enter__(self) -> SqliteUnitOfWork:
        if self._depth == 0:
            with translated_errors():
                self.conn.execute("BEGIN IMMEDIATE")
            self.stills.begin()
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth:
            return  # an inner use case: the outermost one commits or rolls back
        if exc_type is None:
            try:
                with translated_errors():
                    self.conn.execute("COMMIT")
                return
            except StoreUnavailable:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):  # SQLite may have rolled back itself (SQLITE_FULL)
                self.conn.execute("ROLLBACK")
