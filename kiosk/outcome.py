"""One outcome shape for every entry (camera, keypad, CLI, web), and the one boundary that makes it.

Use cases raise the shelf's own errors when they refuse; ``guarded`` turns those into a refused
Outcome (recorded as an event where the store allows), and logs and survives anything else, so
no entry (and never the kiosk loop) dies of a locked database or a bug in one use case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from kiosk.errors import ShelfError, StorageFull, StoreUnavailable, Unexpected
from kiosk.ports import Clock, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorTaskRef:
    """The door task a parcel joined or a door delivery closed (``Outcome.door_task``)."""

    id: int
    team: str  # the [[teams]] id that carries it
    fresh: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one action did. ``as_json`` is the stable shape of ``shelf scan --json``."""

    action: str  # checkin, pickup, rejected, needs_room (a carrier code: type the room), none
    household: str | None = None
    slot: str | None = None
    parcel: int | None = None
    slots: tuple[str, ...] = ()
    parcels: tuple[int, ...] = ()
    repeat: bool = False
    door_delivery: bool = False
    error: str | None = None
    message: str | None = None
    code: str | None = None  # the carrier code (tracking number) this is about
    suggestions: tuple[str, ...] = ()  # households the person may have meant: "24-2403"
    # A carrier check-in's room: False when typed at the gate and not settled (staff check it)
    room_confirmed: bool | None = None
    retry_after_s: int | None = None  # a waiting keypad: seconds until it takes codes again
    tries_left: int | None = None  # a typed code: wrong codes the keypad takes before it waits
    # Door delivery (kiosk.tasks): the task of a household under observation, as {id, team,
    # fresh}; a refused door names the task's household (expected) and the door's (given).
    # A refused room names the household typed (or a label's) whole in ``given`` too, for the
    # person who typed it (kiosk.errors.RoomRefused); ``message`` masks it, being logged.
    door_task: DoorTaskRef | None = None
    expected: str | None = None
    given: str | None = None
    # A carrier code announced for this household: needs_room asks the courier to confirm it
    # from the waybill; a check-in names it too (another household's: the waybill won).
    announced: str | None = None

    @classmethod
    def refused(cls, exc: ShelfError, code: str | None = None) -> Outcome:
        return cls("rejected", error=exc.code, message=str(exc), code=code,
                   suggestions=exc.suggestions, retry_after_s=exc.retry_after_s,
                   tries_left=getattr(exc, "tries_left", None),
                   expected=getattr(exc, "expected", None), given=getattr(exc, "given", None))

    @property
    def retryable(self) -> bool:
        """True when nothing was decided: the store was busy, so the same input may try again."""
        return self.error in (StoreUnavailable.code, Unexpected.code)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["slots"], data["parcels"] = list(self.slots), list(self.parcels)
        data["suggestions"] = list(self.suggestions)
        return data


def guarded(use_case: Callable[[], Outcome], uow: UnitOfWork, clock: Clock,
            source: str, *, code: str | None = None, record: bool = True) -> Outcome:
    """Run ``use_case``; a refusal becomes a refused Outcome, anything else is logged and too.

    ``code`` is the carrier code the use case is about: a refusal names it too. ``record``
    False: the use case keeps its own refusals (not the gate's ``scan_refused``).
    """
    try:
        return use_case()
    except StoreUnavailable as exc:  # nothing to record it in: the store is the problem
        # A full disk lasts: the entry says so at its own pace (the kiosk once a minute).
        log.log(logging.DEBUG if isinstance(exc, StorageFull) else logging.WARNING,
                "%s: store unavailable, nothing done: %s", source, exc)
        return Outcome.refused(exc, code)
    except ShelfError as exc:
        log.info("%s refused (%s): %s", source, exc.code, exc)
        if record and exc.recorded:
            _record_refusal(uow, clock, source, exc, code)
        return Outcome.refused(exc, code)
    except Exception:
        log.exception("%s: unexpected failure; nothing done", source)
        return Outcome.refused(Unexpected("something went wrong; it was logged; try again"), code)


def _record_refusal(uow: UnitOfWork, clock: Clock, source: str, exc: ShelfError,
                    code: str | None) -> None:
    """Keep the refusal for the staff's exception list and the gate's screen.

    A busy store only costs the record.
    """
    try:
        with uow:
            uow.events.add("scan_refused", source, clock.now(), error=exc.code, message=str(exc),
                           suggestions=list(exc.suggestions), code=code,
                           retry_after_s=exc.retry_after_s,
                           tries_left=getattr(exc, "tries_left", None))
    except StoreUnavailable as busy:
        log.warning("%s: could not record a refusal: %s", source, busy)
